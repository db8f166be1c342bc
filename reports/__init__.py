"""Reports: turn check results into terminal summaries, JSON and HTML; the command line."""

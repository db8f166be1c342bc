"""Scheduled batch jobs: the checks of a job file run into an output folder with a history.

The job file itself (its TOML format and validation) is
:mod:`mesalens.reports.job_files`. This package runs it:

* :mod:`~mesalens.reports.jobs.engine` runs the checks of a job, one after
  the other, and logs them;
* :mod:`~mesalens.reports.jobs.index` reads the run records back and writes
  the index of the output folder.

The modules are imported by their full names; this package re-exports nothing.
"""

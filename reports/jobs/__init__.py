"""Scheduled batch jobs: the checks of a job file run into an output folder with a history.

One job per module:

* :mod:`~mesalens.reports.jobs.job_file` reads and validates a job file
  (its ``[[check]]`` tables go through the checks' one validator,
  :func:`mesalens.reports.checks.config.validate_check`);

* :mod:`~mesalens.reports.jobs.engine` runs the checks of a job, one after
  the other, each under its lock into a new run folder, and logs them;
* :mod:`~mesalens.reports.jobs.outcome` says how a check and the job went:
  the run record, the summary lines and the exit code (no file system);
* :mod:`~mesalens.reports.jobs.folders` does the folder transactions: run
  ids, ``.partial`` folders, the ``latest`` link, the locks, leftovers;
* :mod:`~mesalens.reports.jobs.layout` names the output folder's files and
  folders and describes the run records;
* :mod:`~mesalens.reports.jobs.index` reads the run records back and writes
  ``index.json`` and ``index.html``
  (:mod:`~mesalens.reports.jobs.index_html` renders the page);

whether a verdict is unstable or contradicted, and in which words, is
:mod:`mesalens.reports.vocabulary`'s.

The modules are imported by their full names; this package re-exports nothing.
"""

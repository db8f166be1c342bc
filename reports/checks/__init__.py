"""One check of logs: its options, its config and job-file keys, and the runner that runs it.

:mod:`~mesalens.reports.checks.options` declares every setting once;
:mod:`~mesalens.reports.checks.config` reads and validates configs into a
:class:`~mesalens.reports.checks.config.CheckSpec`;
:mod:`~mesalens.reports.checks.runner` loads, analyses and writes one check.
The commands (:mod:`mesalens.reports.cli`) and the job engine
(:mod:`mesalens.reports.jobs`) sit above this package; the renderers below it.
"""

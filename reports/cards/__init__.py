"""The cards of the report page before its evidence sections, one builder module each.

:func:`mesalens.reports.html.render_check_report` assembles the page from
them: :mod:`~mesalens.reports.cards.verdict` (the verdict, its counts, roles
and meaning), :mod:`~mesalens.reports.cards.graph` (the drawn class with its
open paths), :mod:`~mesalens.reports.cards.parent_sets` (the table of the
parent sets of ``D_m``), :mod:`~mesalens.reports.cards.evidence` (the CI
tests on the role pairs, the data per regime) and
:mod:`~mesalens.reports.cards.provenance` (inputs, settings, versions,
timings). Each turns the documents (``result.json``) into its part of the
page template's context; the evidence beyond the graph has its own cards in
:mod:`mesalens.reports.sections`.
"""

"""Pipeline: tables to graphs, equivalence classes and verdicts."""

"""Connectors: read logged tables (files, SQL) and add the regime column."""

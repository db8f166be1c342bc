"""Readers and writers for foreign graph formats, one module per format."""

"""Insights's pure logic: no I/O, tested without a server."""

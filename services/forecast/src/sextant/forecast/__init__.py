"""Sextant forecast service."""

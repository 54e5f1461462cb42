"""Sextant ingest service."""

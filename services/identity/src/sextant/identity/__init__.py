"""Sextant identity service."""

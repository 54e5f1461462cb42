"""Sextant archive service."""

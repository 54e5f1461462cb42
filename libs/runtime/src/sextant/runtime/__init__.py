"""Sextant runtime."""

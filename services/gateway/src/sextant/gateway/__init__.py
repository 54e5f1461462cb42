"""Sextant gateway service."""

"""Sextant reports service."""

"""Sextant insights service."""

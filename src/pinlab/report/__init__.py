"""Renderings of results: herd7's text format, JSON records."""

"""Forecast's functional core: pure functions over numpy arrays, no I/O."""

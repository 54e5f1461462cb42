"""The pytest plugin half of ``make mutation``: before any test runs, replace the core
module's code with one mutant of it, named by ``SEXTANT_MUTANT=<module>:<file>:<number>``.

The module is imported as written, then its namespace is re-run from the mutated tree, so
every test that imports a name from it afterwards gets the mutant's version and the file
on disk is never touched."""

from __future__ import annotations

import importlib
import os

import pytest
from mutate import mutated_tree


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get("SEXTANT_MUTANT")
    if not spec:
        return
    name, rest = spec.split(":", 1)
    path, number = rest.rsplit(":", 1)
    module = importlib.import_module(name)
    with open(path, encoding="utf-8") as source:
        tree = mutated_tree(source.read(), int(number))
    exec(compile(tree, path, "exec"), module.__dict__)  # noqa: S102 - our own module's code

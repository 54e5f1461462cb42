"""The mutation tool makes the mutants it lists, one at a time, and leaves alone what is
not code that computes (docstrings, annotations, messages, raises)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mutate import module_name, mutants, mutated_tree

SOURCE = '''\
"""A module docstring with 3 numbers: 1 2."""
LIMIT: int = 8


def pick(a: int, b: int = 2) -> int:
    """Pick one; 5 is not mutated here."""
    if a < b and not a == 0:
        return max(a, b - 1)
    raise ValueError(f"{a} is 9")
'''


def test_lists_every_mutant_in_a_fixed_order() -> None:
    assert mutants(SOURCE) == [
        (2, "8 -> 9"),
        (5, "2 -> 3"),
        (7, "< -> <="),
        (7, "0 -> 1"),
        (7, "== -> !="),
        (7, "not dropped"),
        (7, "and -> or"),
        (8, "1 -> 2"),  # inner nodes first
        (8, "- -> +"),
        (8, "max() -> min()"),
        (8, "return value -> None"),
    ]


def _pick(number: int) -> Callable[[int, int], int | None]:
    namespace: dict[str, Any] = {}
    exec(compile(mutated_tree(SOURCE, number), "<mutant>", "exec"), namespace)  # noqa: S102
    pick: Callable[[int, int], int | None] = namespace["pick"]
    return pick


def test_each_mutant_changes_exactly_its_own_place() -> None:
    assert ast.unparse(mutated_tree(SOURCE, 2)).count("a <= b") == 1
    assert "a < b" not in ast.unparse(mutated_tree(SOURCE, 2))
    assert "b + 1" in ast.unparse(mutated_tree(SOURCE, 8))
    assert _pick(9)(1, 5) == 1  # min(1, 4) where the module says max(1, 4) == 4
    assert _pick(10)(1, 5) is None
    assert _pick(4)(0, 5) == 4  # a == 0 became a != 0: 0 now passes, 1 does not
    with pytest.raises(ValueError, match="1 is 9"):
        _pick(4)(1, 5)


def test_a_mutant_past_the_last_is_refused() -> None:
    with pytest.raises(IndexError, match="11 mutants"):
        mutated_tree(SOURCE, 11)


def test_a_line_can_opt_out() -> None:
    assert mutants("X = 1  # pragma: no mutate\nY = 2\n") == [(2, "2 -> 3")]


def test_module_names_come_from_the_src_layout() -> None:
    path = "services/forecast/src/sextant/forecast/domain/stale.py"
    assert module_name(path) == "sextant.forecast.domain.stale"

"""``make mutation``: do the tests of the pure cores notice when the code is wrong?

Each core module is changed one small way at a time (a mutant: ``<`` for ``<=``, ``+`` for
``-``, ``and`` for ``or``, a number off by one, ``min`` for ``max``, a return value
dropped...) and the module's own tests are run against each mutant in a fresh pytest
process. A mutant the tests fail on is killed; one they pass on survived, and is a place
where a wrong number would go unnoticed. A module passes when at least ``--threshold``
per cent of its mutants are killed.

The mutant is applied inside the test process by :mod:`sextant_mutant` (a pytest plugin
in this folder) before any test imports the module, so the files on disk never change
and several mutants run at once. Mutants are numbered by one deterministic walk of the
module's syntax tree, shared by this runner and the plugin.

    .venv/bin/python tools/mutation/mutate.py              # every core, the gate
    .venv/bin/python tools/mutation/mutate.py montecarlo   # the cores whose path holds it
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
HERE: Final = Path(__file__).resolve().parent
NO_MUTATE: Final = "pragma: no mutate"


@dataclass(frozen=True)
class Core:
    """A pure module and the tests that are meant to pin its numbers."""

    path: str
    tests: tuple[str, ...]


FORECAST = "services/forecast/tests/unit"
IDENTITY = "services/identity/tests/unit"
INGEST = "services/ingest/tests/unit"
NORMALIZE_TESTS = tuple(
    f"{INGEST}/{name}"
    for name in (
        "test_normalize.py",
        "test_normalize_convergence.py",
        "test_normalize_default_branch.py",
        "test_normalize_deployments.py",
        "test_normalize_jira_categories.py",
        "test_normalize_mapping.py",
        "test_pruned_parse.py",
    )
)
STALE_TESTS = (f"{FORECAST}/test_history_and_stale.py", f"{FORECAST}/test_stale_worked_examples.py")
CORES: Final = (
    Core("services/forecast/src/sextant/forecast/domain/montecarlo.py", (FORECAST,)),
    Core(
        "services/forecast/src/sextant/forecast/domain/calibration.py",
        (f"{FORECAST}/test_backtest_worked_examples.py", f"{FORECAST}/test_calibration.py"),
    ),
    Core(
        "services/forecast/src/sextant/forecast/domain/independence.py",
        (f"{FORECAST}/test_independence.py",),
    ),
    Core(
        "services/forecast/src/sextant/forecast/domain/choice.py", (f"{FORECAST}/test_choice.py",)
    ),
    Core("services/forecast/src/sextant/forecast/domain/stale.py", STALE_TESTS),
    Core("services/forecast/src/sextant/forecast/domain/history.py", STALE_TESTS),
    Core("services/identity/src/sextant/identity/domain/linking.py", (IDENTITY,)),
    Core("services/identity/src/sextant/identity/domain/evidence.py", (IDENTITY,)),
    Core("services/identity/src/sextant/identity/domain/keys.py", (IDENTITY,)),
    Core("services/identity/src/sextant/identity/domain/resolver.py", (IDENTITY,)),
    Core("services/identity/src/sextant/identity/domain/history.py", (IDENTITY,)),
    Core("services/ingest/src/sextant/ingest/signatures.py", (f"{INGEST}/test_signatures.py",)),
    Core("services/ingest/src/sextant/ingest/normalize/base.py", NORMALIZE_TESTS),
    Core("services/ingest/src/sextant/ingest/normalize/github.py", NORMALIZE_TESTS),
    Core("services/ingest/src/sextant/ingest/normalize/gitlab.py", NORMALIZE_TESTS),
    Core("services/ingest/src/sextant/ingest/normalize/jira.py", NORMALIZE_TESTS),
    Core("services/ingest/src/sextant/ingest/normalize/generic.py", NORMALIZE_TESTS),
    Core(
        "services/insights/src/sextant/insights/domain/dora.py",
        ("services/insights/tests/unit/test_dora.py",),
    ),
    Core(
        "services/insights/src/sextant/insights/domain/flow.py",
        ("services/insights/tests/unit/test_flow.py",),
    ),
    Core("libs/runtime/src/sextant/runtime/paging.py", ("libs/runtime/tests/unit/test_paging.py",)),
    Core(
        "libs/runtime/src/sextant/runtime/tabular.py", ("libs/runtime/tests/unit/test_tabular.py",)
    ),
)

# the mutation operators -------------------------------------------------------------------

_COMPARE: Final[dict[type[ast.cmpop], type[ast.cmpop]]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITHMETIC: Final[dict[type[ast.operator], type[ast.operator]]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_SWAPPED_CALLS: Final = {"min": "max", "max": "min", "any": "all", "all": "any"}


class Mutator(ast.NodeTransformer):
    """Walks a module in a fixed order, numbering every place a mutant can be made, and
    makes mutant ``target`` (none when ``target`` is -1, to list them all)."""

    def __init__(self, source_lines: list[str], target: int = -1) -> None:
        self.lines = source_lines
        self.target = target
        self.found: list[tuple[int, str]] = []  # (line, what the mutant does)

    def _point(self, node: ast.AST, description: str) -> bool:
        """Count a mutation point; True when it is the one to make."""
        line = getattr(node, "lineno", 0)
        if 0 < line <= len(self.lines) and NO_MUTATE in self.lines[line - 1]:
            return False
        self.found.append((line, description))
        return len(self.found) - 1 == self.target

    # what is never mutated: docstrings, annotations, decorators' arguments ----------------

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        start = 1 if body and _is_docstring(body[0]) else 0
        return body[:start] + [self.visit(statement) for statement in body[start:]]

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [self.visit(d) if d else None for d in node.args.kw_defaults]
        node.body = self._body(node.body)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return node  # messages, not numbers

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        return node  # which error is raised is checked by the tests of the raise sites

    # the mutants --------------------------------------------------------------------------

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swapped = _COMPARE.get(type(op))
            if swapped and self._point(node, f"{_name(op)} -> {_name(swapped())}"):
                node.ops[i] = swapped()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swapped = _ARITHMETIC.get(type(node.op))
        if swapped and self._point(node, f"{_name(node.op)} -> {_name(swapped())}"):
            node.op = swapped()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        swapped = _ARITHMETIC.get(type(node.op))
        if swapped and self._point(node, f"{_name(node.op)}= -> {_name(swapped())}="):
            node.op = swapped()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        if self._point(node, f"{_name(node.op)} -> {_name(other)}"):
            node.op = other
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not | ast.USub) and self._point(
            node, f"{_name(node.op)} dropped"
        ):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int | float) and self._point(node, f"{value!r} -> {value + 1!r}"):
            return ast.copy_location(ast.Constant(value + 1), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _SWAPPED_CALLS:
            other = _SWAPPED_CALLS[node.func.id]
            if self._point(node, f"{node.func.id}() -> {other}()"):
                node.func = ast.copy_location(ast.Name(other, ast.Load()), node.func)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if (
            node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
            and self._point(node, "return value -> None")
        ):
            node.value = ast.copy_location(ast.Constant(None), node.value)
        return node

    def visit_Break(self, node: ast.Break) -> ast.AST:
        if self._point(node, "break -> continue"):
            return ast.copy_location(ast.Continue(), node)
        return node

    def visit_Continue(self, node: ast.Continue) -> ast.AST:
        if self._point(node, "continue -> break"):
            return ast.copy_location(ast.Break(), node)
        return node


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _name(op: ast.AST) -> str:
    return {
        "Lt": "<", "LtE": "<=", "Gt": ">", "GtE": ">=", "Eq": "==", "NotEq": "!=",
        "In": "in", "NotIn": "not in", "Is": "is", "IsNot": "is not", "Add": "+", "Sub": "-",
        "Mult": "*", "Div": "/", "FloorDiv": "//", "Mod": "%", "Pow": "**", "BitAnd": "&",
        "BitOr": "|", "LShift": "<<", "RShift": ">>", "And": "and", "Or": "or", "Not": "not",
        "USub": "unary -",
    }.get(type(op).__name__, type(op).__name__)  # fmt: skip


def mutants(source: str) -> list[tuple[int, str]]:
    """Every mutant of ``source``: its line and what it changes, in mutant-number order."""
    mutator = Mutator(source.splitlines())
    mutator.visit(ast.parse(source))
    return mutator.found


def mutated_tree(source: str, number: int) -> ast.Module:
    """``source``'s syntax tree with mutant ``number`` made."""
    mutator = Mutator(source.splitlines(), number)
    tree = ast.parse(source)
    mutator.visit(tree)  # the module node is changed in place, never replaced
    if number >= len(mutator.found):
        raise IndexError(f"the module has {len(mutator.found)} mutants, not {number + 1}")
    return ast.fix_missing_locations(tree)


# running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    number: int
    line: int
    description: str
    killed: bool
    seconds: float


def module_name(path: str) -> str:
    """The dotted module name of a file under a ``src`` folder."""
    relative = Path(path).with_suffix("").parts
    return ".".join(relative[relative.index("src") + 1 :])


def _pytest(core: Core, number: int | None, timeout: float) -> tuple[bool, float]:
    """Run ``core``'s tests, on mutant ``number`` (None: the module as written); True
    when they pass."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    )
    if number is not None:
        env["SEXTANT_MUTANT"] = f"{module_name(core.path)}:{ROOT / core.path}:{number}"
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider",
        "-p", "sextant_mutant", "-o", "addopts=--import-mode=importlib",
        *(str(ROOT / t) for t in core.tests),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started  # an endless loop is a failure noticed
    if result.returncode not in (0, 1):
        raise RuntimeError(
            f"pytest could not run {core.path} mutant {number}:\n{result.stdout.decode()[-2000:]}"
        )
    return result.returncode == 0, time.monotonic() - started


def run_core(core: Core, jobs: int) -> list[Outcome]:
    source = (ROOT / core.path).read_text()
    found = mutants(source)
    passed, baseline = _pytest(core, None, timeout=1800)
    if not passed:
        raise SystemExit(f"{core.path}: its tests fail without any mutant; fix them first")
    timeout = max(30.0, 4 * baseline)

    def one(number: int) -> Outcome:
        survived, seconds = _pytest(core, number, timeout)
        line, description = found[number]
        return Outcome(number, line, description, not survived, seconds)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, range(len(found))))


def _selected(patterns: list[str]) -> Iterator[Core]:
    for core in CORES:
        if not patterns or any(p in core.path for p in patterns):
            yield core


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("patterns", nargs="*", help="only the cores whose path holds one")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threshold", type=float, default=85.0, help="per cent killed")
    parser.add_argument("--report", type=Path, default=ROOT / ".mutation" / "report.json")
    args = parser.parse_args()

    report, failing = {}, []
    for core in _selected(args.patterns):
        started = time.monotonic()
        outcomes = run_core(core, args.jobs)
        killed = sum(o.killed for o in outcomes)
        score = 100.0 * killed / len(outcomes) if outcomes else 100.0
        verdict = "ok" if score >= args.threshold else "BELOW"
        print(
            f"{core.path}: {killed}/{len(outcomes)} mutants killed, {score:.1f} % "
            f"[{verdict}] in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        for outcome in outcomes:
            if not outcome.killed:
                print(f"    survived  line {outcome.line}: {outcome.description}", flush=True)
        if score < args.threshold:
            failing.append(core.path)
        report[core.path] = {
            "killed": killed,
            "mutants": len(outcomes),
            "score": round(score, 1),
            "survivors": [
                {"line": o.line, "mutant": o.description} for o in outcomes if not o.killed
            ],
        }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {args.report}")
    if failing:
        print(f"below {args.threshold:.0f} %: {', '.join(failing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

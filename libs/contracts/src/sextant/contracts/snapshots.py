"""Write or check the committed schema snapshots and AsyncAPI document.

    python -m sextant.contracts.snapshots [--write] [--dir libs/contracts]

Without ``--write`` it exits 1 listing what differs from the snapshots.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sextant.contracts.asyncapi import asyncapi_document
from sextant.contracts.schemas import all_schemas


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[str, str]:
    """Relative path → content of every snapshot file."""
    files = {f"schemas/{name}.json": render(schema) for name, schema in all_schemas().items()}
    files["asyncapi.json"] = render(asyncapi_document())
    return files


def differences(root: Path) -> list[str]:
    """Snapshot files that are missing, stale or no longer generated."""
    expected = expected_files()
    problems = [
        f"{path}: {'missing' if not (root / path).exists() else 'stale'}"
        for path, content in expected.items()
        if not (root / path).exists() or (root / path).read_text() != content
    ]
    existing = {f"schemas/{p.name}" for p in (root / "schemas").glob("*.json")}
    problems += [f"{path}: no longer generated" for path in sorted(existing - set(expected))]
    return problems


def write(root: Path) -> None:
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    for path, content in expected_files().items():
        (root / path).write_text(content)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write the snapshots")
    parser.add_argument(
        "--dir", type=Path, default=Path("libs/contracts"), help="the contracts package folder"
    )
    args = parser.parse_args()
    if args.write:
        write(args.dir)
        return
    problems = differences(args.dir)
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

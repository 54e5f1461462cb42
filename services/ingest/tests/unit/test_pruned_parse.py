"""The pruned parse of heavy deliveries gives the normalizers everything they read: every
payload normalizes to the same events (or the same reason, or the same error) whether it
was parsed in full or pruned; a body the structs cannot hold falls back to the full
parse; a body that is not JSON is refused as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from sextant.ingest.normalize import Malformed, normalize, pruned

from ..fixtures import payloads
from .test_normalize import CORPORA, CTX

ACTIONS = [
    "opened",
    "reopened",
    "closed",
    "synchronize",
    "edited",
    "labeled",
    "ready_for_review",
    "review_requested",
    "locked",
]


def outcome(body: bytes, parse: Any) -> Any:
    """What normalizing ``body`` parsed by ``parse`` yields: events, a reason or an error."""
    try:
        result = normalize("github", CTX, "pull_request", parse(body))
    except Malformed as exc:
        return ("malformed", str(exc))
    return (
        [(f.event.model_dump(mode="json"), f.entity, f.version) for f in result.facts],
        result.ignored,
    )


def same_both_ways(body: bytes) -> None:
    full = outcome(body, orjson.loads)
    assert outcome(body, lambda b: pruned.parse("github", "pull_request", b)) == full


def own_payloads() -> list[dict[str, Any]]:
    made = [payloads.github_pull_request(action) for action in ACTIONS]
    made.append(payloads.github_pull_request("closed", merged=True))
    bot = {"id": 41898282, "login": "github-actions[bot]", "type": "Bot"}
    made.append(payloads.github_pull_request("opened", user=bot))
    with_changes = payloads.github_pull_request("edited")
    with_changes["changes"] = {"title": {"from": "old"}, "body": {"from": ""}}
    made.append(with_changes)
    backfilled = payloads.github_pull_request("closed", merged=True)
    backfilled["sextant"] = {"commit_shas": ["a" * 40, "b" * 40]}
    made.append(backfilled)
    return made


@pytest.mark.parametrize("payload", own_payloads(), ids=lambda p: str(p["action"]))
def test_the_fixtures_normalize_alike_pruned_or_in_full(payload: dict[str, Any]) -> None:
    same_both_ways(json.dumps(payload).encode())


@pytest.mark.skipif(
    not (CORPORA / "github-webhooks").exists(), reason="../shared/corpora is not here"
)
def test_every_real_pull_request_payload_normalizes_alike_pruned_or_in_full() -> None:
    paths = sorted((CORPORA / "github-webhooks" / "pull_request").glob("*.json"))
    assert len(paths) >= 20
    for path in paths:
        same_both_ways(path.read_bytes())


def test_the_pruned_parse_keeps_only_what_the_normalizer_reads() -> None:
    payload = payloads.github_pull_request("opened")
    payload["pull_request"]["body"] = "x" * 10_000
    payload["repository"]["owner"] = {"login": "octo-org", "url": "https://x"}
    parsed = pruned.parse("github", "pull_request", json.dumps(payload).encode())
    assert "body" not in parsed["pull_request"]
    assert "state" not in parsed["pull_request"]
    assert "owner" not in parsed["repository"]
    assert "closed_at" not in parsed["pull_request"]  # null: left out, as missing
    assert parsed["pull_request"]["labels"] == [{"name": "perf"}]


@pytest.mark.parametrize(
    "body",
    [
        b'{"action": "opened", "pull_request": "not an object"}',
        b'{"action": "opened", "pull_request": {"labels": [1, 2]}}',
        b'{"action": "opened"}',
        b"[1, 2]",
    ],
)
def test_a_body_the_structs_cannot_hold_is_read_in_full(body: bytes) -> None:
    assert pruned.parse("github", "pull_request", body) == orjson.loads(body)
    same_both_ways(body)


@pytest.mark.parametrize("body", [b"", b"{", b'{"action": "opened",}', b"\xff"])
def test_a_body_that_is_not_json_is_refused_as_before(body: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        pruned.parse("github", "pull_request", body)


def test_other_deliveries_are_parsed_in_full(tmp_path: Path) -> None:
    body = json.dumps(payloads.github_push()).encode()
    assert pruned.parse("github", "push", body) == orjson.loads(body)
    assert pruned.parse("gitlab", "pull_request", body) == orjson.loads(body)

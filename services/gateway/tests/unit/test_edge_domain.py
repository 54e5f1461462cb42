"""The gateway's pure pieces: the audit chain, token buckets, circuit breakers, the upload
pace, the client address, the routing table and the OpenAPI merge."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect

from sextant.gateway.access import client_address
from sextant.gateway.domain.audit import (
    GENESIS,
    AuditEntry,
    Checkpoint,
    chain_hash,
    verify_chain,
)
from sextant.gateway.domain.limits import (
    Breakers,
    CircuitBreaker,
    TokenBuckets,
    UploadPace,
    replica_share,
    retry_after_header,
)
from sextant.gateway.domain.routes import ROUTES, route_for
from sextant.gateway.openapi import merge

TENANT = UUID(int=7)


def chain(n: int) -> list[tuple[AuditEntry, str, str]]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        entry = AuditEntry(
            TENANT, seq, uuid4(), datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=seq),
            "gateway", "ada", "workspace.create", "workspace", str(seq), None, {"name": f"w{seq}"}, None,
        )  # fmt: skip
        digest = chain_hash(prev, entry)
        rows.append((entry, prev, digest))
        prev = digest
    return rows


def test_an_intact_chain_verifies_and_its_head_must_match() -> None:
    rows = chain(5)
    assert verify_chain(rows, (5, rows[-1][2])) is None
    assert verify_chain(rows[:-1], (5, rows[-1][2])) is not None  # the newest row removed


@given(st.integers(min_value=0, max_value=9), st.sampled_from(["actor", "after", "at", "seq"]))
def test_changing_any_field_of_any_row_is_named_at_that_row(index: int, field: str) -> None:
    rows = chain(10)
    entry, prev, digest = rows[index]
    changed = {
        "actor": replace(entry, actor="mallory"),
        "after": replace(entry, after={"name": "evil"}),
        "at": replace(entry, at=entry.at + timedelta(seconds=1)),
        "seq": replace(entry, seq=entry.seq + 100),
    }[field]
    rows[index] = (changed, prev, digest)
    broken = verify_chain(rows, (10, rows[-1][2]))
    assert broken is not None and broken.seq == index + 1


def test_a_removed_row_is_named_and_time_zones_do_not_change_the_hash() -> None:
    rows = chain(4)
    broken = verify_chain(rows[:1] + rows[2:], (4, rows[-1][2]))
    assert broken is not None and broken.seq == 2 and "missing" in broken.reason
    entry = rows[0][0]
    elsewhere = replace(entry, at=entry.at.astimezone(timezone(timedelta(hours=5))))
    assert chain_hash(GENESIS, elsewhere) == rows[0][2]


def test_a_purged_chain_verifies_from_its_checkpoint_and_not_without_it() -> None:
    rows = chain(6)
    kept, head = rows[3:], (6, rows[-1][2])
    start = Checkpoint(seq=3, hash=rows[2][2], purged=3)  # rows 1..3 purged
    assert verify_chain(kept, head, start) is None
    assert verify_chain(kept, head) == verify_chain(kept, head, None)  # from genesis: broken
    assert verify_chain(kept, head) is not None
    assert verify_chain([], (3, rows[2][2]), start) is None  # everything purged
    forged = verify_chain(kept, head, Checkpoint(seq=3, hash="f" * 64, purged=3))
    assert forged is not None and forged.seq == 4  # the first kept row no longer follows
    gap = verify_chain(rows[4:], head, start)
    assert gap is not None and gap.seq == 4 and "missing" in gap.reason
    entry, prev, digest = kept[1]
    tampered = [kept[0], (replace(entry, actor="mallory"), prev, digest), *kept[2:]]
    broken = verify_chain(tampered, head, start)
    assert broken is not None and broken.seq == 5


def test_token_buckets_allow_a_burst_then_the_rate_and_say_how_long_to_wait() -> None:
    buckets = TokenBuckets(rate=2, burst=3)
    assert [buckets.take("t", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("t", 0.0)
    assert 0.49 < wait <= 0.5 and retry_after_header(wait) == "1"
    assert buckets.take("t", 0.5) == 0.0  # one token back after 1/rate seconds
    assert buckets.take("other", 0.0) == 0.0  # keys do not share a bucket


def test_a_replica_keeps_its_share_of_a_gateway_wide_limit() -> None:
    # 30/s with a burst of 90 over three replicas: 10/s and 30 at once on each.
    share = replica_share(30.0, 90.0, 3)
    assert (share.rate, share.burst) == (10.0, 30.0)
    assert [share.take("t", 0.0) for _ in range(31)][-2:] == [0.0, pytest.approx(0.1)]
    # A burst of 3 over four replicas rounds up to one request each (4 in all, not 0).
    assert replica_share(2.0, 3.0, 4).burst == 1.0
    assert replica_share(2.0, 3.0, 1).burst == 3.0
    with pytest.raises(ValueError):
        replica_share(2.0, 3.0, 0)


def test_token_buckets_forget_the_least_recently_used_keys() -> None:
    buckets = TokenBuckets(rate=1, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        buckets.take(key, 0.0)
    assert buckets.take("a", 0.0) == 0.0  # forgotten, so it starts full again


def test_token_buckets_can_be_checked_without_spending_a_token() -> None:
    buckets = TokenBuckets(rate=2, burst=2)
    assert buckets.wait("addr", 0.0) == 0.0  # unknown: full
    buckets.take("addr", 0.0)
    buckets.take("addr", 0.0)
    assert buckets.wait("addr", 0.0) == 0.5 and buckets.wait("addr", 0.0) == 0.5  # no cost
    assert buckets.wait("addr", 0.5) == 0.0


def test_failures_charged_after_the_fact_add_up_to_a_longer_wait_down_to_a_floor() -> None:
    buckets = TokenBuckets(rate=2, burst=3)
    for _ in range(5):  # five let through together, all failed
        buckets.charge("addr", 0.0)
    assert buckets.wait("addr", 0.0) == 1.5  # 3 - 5 = -2 tokens: 3 to earn at 2/s
    for _ in range(10):
        buckets.charge("addr", 0.0)
    assert buckets.wait("addr", 0.0) == 2.0  # floored at -3: 4 to earn


def opened(breaker: CircuitBreaker, at: float = 0.0) -> CircuitBreaker:
    for _ in range(breaker.threshold):
        attempt = breaker.attempt(at)
        assert attempt is not None
        attempt.failed(at)
    return breaker


def test_the_breaker_opens_after_failures_probes_once_and_closes_on_success() -> None:
    breaker = opened(CircuitBreaker(threshold=3, cooldown=10))
    assert breaker.state == "open" and breaker.attempt(5) is None
    assert breaker.retry_after(5) == 5
    probe = breaker.attempt(10)
    assert probe is not None and probe.is_probe and breaker.state == "half-open"
    assert breaker.attempt(10) is None  # one probe at a time
    probe.failed(10)
    assert breaker.state == "open" and breaker.attempt(15) is None
    probe = breaker.attempt(20)
    assert probe is not None
    probe.succeeded()
    assert breaker.state == "closed" and breaker.attempt(20) is not None


def test_a_success_between_failures_starts_the_count_again() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=10)
    for verdict in ("failed", "failed", "succeeded", "failed", "failed"):
        attempt = breaker.attempt(0)
        assert attempt is not None
        attempt.failed(0) if verdict == "failed" else attempt.succeeded()
    assert breaker.state == "closed"


@pytest.mark.parametrize(
    "exit_with", [RuntimeError("crash"), asyncio.CancelledError(), ClientDisconnect()]
)
def test_a_probe_that_ends_without_a_verdict_frees_the_slot_for_the_next_call(
    exit_with: BaseException,
) -> None:
    breaker = opened(CircuitBreaker(threshold=2, cooldown=10))
    probe = breaker.attempt(10)
    assert probe is not None and probe.is_probe
    with pytest.raises(type(exit_with)), probe:
        raise exit_with
    assert breaker.state == "open"  # no verdict: still open, cooldown over
    following = breaker.attempt(10)
    assert following is not None and following.is_probe
    following.succeeded()
    assert breaker.state == "closed"


def test_a_stuck_probe_is_replaced_after_its_deadline_and_its_late_verdict_ignored() -> None:
    breaker = opened(CircuitBreaker(threshold=1, cooldown=10, probe_deadline=30))
    stuck = breaker.attempt(10)
    assert stuck is not None and stuck.is_probe
    assert breaker.attempt(39.9) is None and breaker.retry_after(39.9) == 1.0
    replacement = breaker.attempt(40)
    assert replacement is not None and replacement.is_probe
    stuck.succeeded()  # the stuck one answers at last: it no longer speaks for the breaker
    assert breaker.state == "half-open"
    replacement.failed(41)
    assert breaker.state == "open" and breaker.attempt(50) is None


def test_breakers_are_kept_per_key_and_the_least_recently_used_forgotten() -> None:
    breakers = Breakers(threshold=1, cooldown=10, max_keys=2)
    opened(breakers.get(("ingest", "source-a")))
    assert breakers.state(("ingest", "source-a")) == "open"
    assert breakers.state(("ingest", "source-b")) == "closed"
    assert breakers.get(("ingest", "source-b")).attempt(1) is not None
    breakers.get(("reports", "tenant-c"))  # a third key: source-a is the least recent
    assert breakers.state(("ingest", "source-a")) == "closed"


def test_an_upload_has_a_grace_then_must_average_the_minimum_rate() -> None:
    pace = UploadPace(grace=5, min_bytes_per_second=1000)
    assert pace.deadline(100, 0) == 105  # nothing yet: the grace
    assert pace.deadline(100, 3000) == 105  # 3 KB in: still the grace
    assert pace.deadline(100, 20_000) == 120  # 20 KB in: 20 s at 1 KB/s


def test_the_client_address_is_the_peer_unless_proxies_are_trusted() -> None:
    scope = {
        "client": ("10.0.0.9", 5000),
        "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7"), (b"x-forwarded-for", b"10.0.0.8")],
    }  # fmt: skip
    assert client_address(scope, 0) == "10.0.0.9"  # X-Forwarded-For ignored
    assert client_address(scope, 1) == "10.0.0.8"
    assert client_address(scope, 2) == "203.0.113.7"  # the "6.6.6.6" a client wrote is not
    assert client_address(scope, 5) == "6.6.6.6"  # fewer hops than proxies: the leftmost
    assert client_address({"headers": []}, 0) == "unknown"


def test_routes_send_each_public_path_to_its_owner_most_specific_first() -> None:
    ws = str(uuid4())
    assert route_for(f"/v1/workspaces/{ws}/sources").params == {"workspace_id": ws}  # type: ignore[union-attr]
    assert route_for("/v1/developers/abc/trends").service == "insights"  # type: ignore[union-attr]
    assert route_for("/v1/developers/abc").service == "identity"  # type: ignore[union-attr]
    assert route_for("/v1/developers").service == "identity"  # type: ignore[union-attr]
    team = route_for("/v1/teams/t1/metrics")
    assert (team.service, team.params) == ("insights", {"team_id": "t1"})  # type: ignore[union-attr]
    for identity_s in ("/v1/teams", "/v1/teams/t1", "/v1/teams/t1/members", "/v1/teams/t1/m"):
        assert route_for(identity_s).service == "identity"  # type: ignore[union-attr]
    assert route_for("/v1/reports/1/file").service == "reports"  # type: ignore[union-attr]
    for scheduled in ("/v1/report-schedules", "/v1/report-schedules/1", "/v1/report-logo"):
        assert route_for(scheduled).service == "reports"  # type: ignore[union-attr]
    for ingested in ("/v1/change-requests", "/v1/deployments/x", "/v1/incidents", "/v1/builds"):
        assert route_for(ingested).service == "insights"  # type: ignore[union-attr]
    for gated in ("/v1/gate-policies", "/v1/gates/evaluate", "/v1/gates/evaluations/x/override"):
        assert route_for(gated).service == "insights"  # type: ignore[union-attr]
    for gateway_own in (
        "/v1/workspaces",
        f"/v1/workspaces/{ws}",
        "/v1/tenants",
        "/v1/hooks/x",
        "/v1/nope",
    ):
        assert route_for(gateway_own) is None
    assert {r.service for r in ROUTES} == {
        "ingest",
        "identity",
        "forecast",
        "insights",
        "archive",
        "reports",
    }


def test_merge_keeps_each_services_routed_paths_and_renames_clashing_schemas() -> None:
    own = {
        "openapi": "3.1.0",
        "paths": {"/v1/me": {"get": {"responses": {}}}},
        "components": {"schemas": {"Page": {"type": "object"}}},
    }
    ingest = {
        "paths": {
            "/v1/sources/{source_id}": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page"}
                                }
                            }
                        }
                    }
                }
            },
            "/healthz": {"get": {}},
            "/v1/hooks/{source_id}": {"post": {}},
        },
        "components": {"schemas": {"Page": {"type": "array"}}},
    }
    merged = merge(own, {"ingest": ingest})
    assert sorted(merged["paths"]) == ["/v1/me", "/v1/sources/{source_id}"]
    ref = merged["paths"]["/v1/sources/{source_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    assert ref == "#/components/schemas/ingest_Page"
    assert merged["components"]["schemas"]["Page"] == {"type": "object"}
    assert merged["paths"]["/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert "401" in merged["paths"]["/v1/sources/{source_id}"]["get"]["responses"]

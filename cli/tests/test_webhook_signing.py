"""What ``sextant webhook send`` and ``sextant demo`` sign passes ingest's real verifier,
for every scheme; a changed byte or a wrong secret does not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from sextant.cli.webhooks import CannotInfer, infer_event, kind_of, sign
from sextant.ingest.signatures import SignatureRejected, verify

BODY = b'{"action":"opened","number":1}'
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ"
SIGNING_TOKEN = "whsec_" + base64.b64encode(b"sixteen-byte-key-and-more").decode()
OTHER_TOKEN = "whsec_" + base64.b64encode(b"another-sixteen-byte-key").decode()


@pytest.mark.parametrize(
    ("kind", "secret", "event", "expected_event"),
    [
        ("github", SECRET, "pull_request", "pull_request"),
        ("jira", SECRET, None, None),
        ("gitlab", SECRET, "Merge Request Hook", "Merge Request Hook"),
        ("gitlab", SIGNING_TOKEN, "Merge Request Hook", "Merge Request Hook"),
        ("generic", SIGNING_TOKEN, None, None),
    ],
)
def test_signed_deliveries_pass_ingests_verifier(
    kind: str, secret: str, event: str | None, expected_event: str | None
) -> None:
    headers = sign(kind, secret, BODY, delivery="d-42", event=event)  # type: ignore[arg-type]
    delivery = verify(kind, secret, headers, BODY, now=time.time())  # type: ignore[arg-type]
    assert delivery.delivery_id == "d-42"
    assert delivery.event == expected_event
    assert headers["content-type"] == "application/json"

    with pytest.raises(SignatureRejected):
        wrong = OTHER_TOKEN if secret == SIGNING_TOKEN else SECRET[::-1]
        verify(kind, wrong, headers, BODY, now=time.time())  # type: ignore[arg-type]
    if kind == "gitlab" and secret == SECRET:
        return  # the classic X-Gitlab-Token does not cover the body (GitLab's design)
    with pytest.raises(SignatureRejected):
        verify(kind, secret, headers, BODY + b" ", now=time.time())  # type: ignore[arg-type]


def test_github_signature_is_the_documented_hmac() -> None:
    """GitHub's documented example: HMAC-SHA256 of the body with the secret, in hex."""
    expected = hmac.new(b"It's a Secret to Everybody", b"Hello, World!", hashlib.sha256)
    headers = sign("github", "It's a Secret to Everybody", b"Hello, World!", event="ping")
    assert headers["x-hub-signature-256"] == "sha256=" + expected.hexdigest()
    assert headers["x-hub-signature-256"] == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_standard_webhooks_signs_the_given_moment() -> None:
    headers = sign("generic", SIGNING_TOKEN, BODY, delivery="m-1", at=1_700_000_000)
    assert headers["webhook-timestamp"] == "1700000000"
    with pytest.raises(SignatureRejected, match="clock"):
        verify("generic", SIGNING_TOKEN, headers, BODY, now=1_700_000_000 + 301)


@pytest.mark.parametrize(
    ("payload", "kind", "event"),
    [
        ({"webhookEvent": "jira:issue_updated"}, "jira", None),
        ({"object_kind": "merge_request"}, "gitlab", "Merge Request Hook"),
        ({"object_kind": "pipeline"}, "gitlab", "Pipeline Hook"),
        (
            {"action": "submitted", "review": {}, "pull_request": {}},
            "github",
            "pull_request_review",
        ),
        ({"action": "opened", "pull_request": {}}, "github", "pull_request"),
        ({"deployment_status": {}, "deployment": {}}, "github", "deployment_status"),
        ({"action": "completed", "workflow_run": {}}, "github", "workflow_run"),
        ({"action": "created", "issue": {}, "comment": {}}, "github", "issue_comment"),
        ({"action": "opened", "issue": {}}, "github", "issues"),
        ({"ref": "refs/heads/main", "after": "abc", "commits": []}, "github", "push"),
        ({"zen": "Keep it logically awesome.", "hook_id": 1}, "github", "ping"),
    ],
)
def test_the_tool_and_event_are_read_from_the_payload(
    payload: dict[str, object], kind: str, event: str | None
) -> None:
    assert kind_of(payload) == kind
    assert infer_event(kind_of(payload), payload) == event


def test_a_payload_that_does_not_say_which_event_asks_for_one() -> None:
    with pytest.raises(CannotInfer, match="--event"):
        infer_event("github", {"hello": "world"})
    with pytest.raises(CannotInfer, match="--event"):
        infer_event("gitlab", {"object_kind": "something_new"})

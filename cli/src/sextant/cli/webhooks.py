"""Webhook deliveries signed the way each tool signs them, sent to a gateway's
``/v1/hooks/{source_id}``: what ``sextant webhook send`` and ``sextant demo`` share.

The headers are exactly what ingest's verifier (``sextant.ingest.signatures``) checks:
GitHub and Jira an HMAC-SHA256 of the raw body in hex (``X-Hub-Signature-256`` /
``X-Hub-Signature``), GitLab its ``X-Gitlab-Token`` (or, for a ``whsec_`` signing token,
the Standard Webhooks signature), generic sources the Standard Webhooks signature over
``id.timestamp.body``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

Kind = Literal["github", "gitlab", "jira", "generic"]
KINDS: tuple[Kind, ...] = ("github", "gitlab", "jira", "generic")
STANDARD_WEBHOOKS_PREFIX = "whsec_"

# GitLab names its event in X-Gitlab-Event; the body's object_kind says which it is.
GITLAB_EVENTS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "issue": "Issue Hook",
    "note": "Note Hook",
    "pipeline": "Pipeline Hook",
    "build": "Job Hook",
    "deployment": "Deployment Hook",
    "release": "Release Hook",
}


class CannotInfer(ValueError):
    """The payload does not say which event it is; the message says what to pass."""


def kind_of(payload: Any) -> Kind:
    """The tool a payload comes from, by its shape: Jira names its event in
    ``webhookEvent``, GitLab in ``object_kind``; anything else is taken for GitHub."""
    if isinstance(payload, dict) and "webhookEvent" in payload:
        return "jira"
    if isinstance(payload, dict) and "object_kind" in payload:
        return "gitlab"
    return "github"


def infer_event(kind: Kind, payload: Any) -> str | None:
    """The event header a tool would send with ``payload`` (None for Jira and generic
    sources, which send none), or :class:`CannotInfer` when the shape does not tell."""
    if kind in ("jira", "generic"):
        return None
    body = payload if isinstance(payload, dict) else {}
    if kind == "gitlab":
        event = GITLAB_EVENTS.get(str(body.get("object_kind")))
        if event is None:
            raise CannotInfer(
                f"object_kind {body.get('object_kind')!r} is not one I know; pass --event"
            )
        return event
    # GitHub: the keys each event's payload carries (the most specific first).
    if "zen" in body and "hook_id" in body:
        return "ping"
    if "review" in body and "pull_request" in body:
        return "pull_request_review"
    if "pull_request" in body:
        return "pull_request"
    if "deployment_status" in body:
        return "deployment_status"
    if "deployment" in body:
        return "deployment"
    if "workflow_run" in body:
        return "workflow_run"
    if "workflow_job" in body:
        return "workflow_job"
    if "issue" in body and "comment" in body:
        return "issue_comment"
    if "issue" in body:
        return "issues"
    if "ref" in body and "after" in body:
        return "push"
    raise CannotInfer("the payload does not show which GitHub event it is; pass --event")


def sign(
    kind: Kind,
    secret: str,
    body: bytes,
    *,
    delivery: str | None = None,
    event: str | None = None,
    at: int | None = None,
) -> dict[str, str]:
    """The headers ``kind``'s tool sends with ``body`` (content type included); a fresh
    delivery id when none is given, ``at`` (epoch seconds) for Standard Webhooks."""
    delivery = delivery or str(uuid.uuid4())
    headers = {"content-type": "application/json"}
    if kind == "github":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return headers | {
            "x-hub-signature-256": f"sha256={digest}",
            "x-github-delivery": delivery,
            "x-github-event": event or "push",
        }
    if kind == "jira":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return headers | {
            "x-hub-signature": f"sha256={digest}",
            "x-atlassian-webhook-identifier": delivery,
        }
    if kind == "gitlab" and not secret.startswith(STANDARD_WEBHOOKS_PREFIX):
        return headers | {
            "x-gitlab-token": secret,
            "idempotency-key": delivery,
            "x-gitlab-event": event or "Push Hook",
        }
    # generic, or GitLab with a signing token: Standard Webhooks
    at = int(time.time()) if at is None else at
    key = base64.b64decode(secret.removeprefix(STANDARD_WEBHOOKS_PREFIX))
    mac = hmac.new(key, f"{delivery}.{at}.".encode() + body, hashlib.sha256).digest()
    signed = headers | {
        "webhook-id": delivery,
        "webhook-timestamp": str(at),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    return signed | ({"x-gitlab-event": event or "Push Hook"} if kind == "gitlab" else {})


@dataclass(frozen=True)
class Reply:
    """What the gateway answered a delivery, after any 429 retries."""

    status: int
    body: Any
    retries: int

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def outcome(self) -> str | None:
        """The receipt's outcome: normalized, ignored, failed or duplicate."""
        return self.body.get("outcome") if isinstance(self.body, dict) else None

    def describe(self) -> str:
        """One line: the status and the receipt's outcome or the problem's detail."""
        if isinstance(self.body, dict):
            said = self.body.get("detail") or self.body.get("outcome") or self.body.get("title")
            reason = self.body.get("reason")
            text = f"{said} ({reason})" if reason else str(said)
        else:
            text = str(self.body)[:200]
        return f"{self.status} {text}"


async def deliver(
    client: httpx.AsyncClient,
    source_id: str,
    kind: Kind,
    secret: str,
    body: bytes,
    *,
    event: str | None = None,
    delivery: str | None = None,
    max_retries: int = 5,
) -> Reply:
    """POST one signed delivery to ``/v1/hooks/{source_id}`` on ``client``'s base URL,
    waiting out a 429's Retry-After (at most ``max_retries`` times) as a tool would."""
    delivery = delivery or str(uuid.uuid4())
    retries = 0
    while True:
        headers = sign(kind, secret, body, delivery=delivery, event=event)
        reply = await client.post(f"/v1/hooks/{source_id}", content=body, headers=headers)
        if reply.status_code != 429 or retries >= max_retries:
            break
        retries += 1
        await asyncio.sleep(_retry_after(reply))
    try:
        parsed: Any = reply.json()
    except ValueError:
        parsed = reply.text
    return Reply(reply.status_code, parsed, retries)


def _retry_after(reply: httpx.Response) -> float:
    value = reply.headers.get("retry-after", "1")
    try:
        return min(max(float(value), 0.1), 30.0)
    except ValueError:
        return 1.0

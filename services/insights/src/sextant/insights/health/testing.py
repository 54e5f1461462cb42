"""A fake Gemini API for tests and the bench: an ASGI app that answers ``generateContent``
the way the real one does (candidates, usage metadata, error bodies), so the SDK's own
code path runs against it on loopback.

Each request takes the next scripted :class:`FakeReply` (the default when the script is
empty). A ``good`` reply reads the findings out of the prompt and writes one grounded
suggestion per finding; ``hallucinate`` makes a share of them cite an unknown finding or
name an unknown person (seeded), which the grounding check must drop.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Mode = Literal["good", "malformed", "unknown_finding", "unknown_person", "invalid"]


@dataclass
class FakeReply:
    status: int = 200
    mode: Mode = "good"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    tokens: int = 500
    hallucinate: float = 0.0  # share of suggestions made ungrounded, for "good"


def prompt_of(body: dict[str, Any]) -> str:
    return "".join(
        part.get("text", "") for content in body.get("contents", []) for part in content["parts"]
    )


def findings_of(prompt: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(prompt.rsplit("Findings:\n", 1)[1])
    return found


def reply_text(
    findings: list[dict[str, Any]], reply: FakeReply, rng: random.Random
) -> tuple[str, int, int]:
    """The reply's text, how many suggestions it has and how many are ungrounded."""
    if reply.mode == "malformed":
        return "Here are my suggestions: pair people more.", 1, 1
    suggestions = []
    bad_count = 0
    for f in findings:
        people = list(f["people"])
        s = {
            "title": f"Act on {f['kind']}",
            "action": f"Talk with {', '.join(people) or 'the team'} this week.",
            "rationale": f"Evidence: {json.dumps(f['evidence'])}",
            "finding_ids": [f["id"]],
            "people": people,
        }
        bad = reply.mode if reply.mode != "good" else None
        if bad is None and rng.random() < reply.hallucinate:
            bad = rng.choice(["unknown_finding", "unknown_person"])
        if bad == "unknown_finding":
            s["finding_ids"] = [f["id"], "silo-made-up"]
        elif bad == "unknown_person":
            s["people"] = [*people, "P99"]
        elif bad == "invalid":
            del s["finding_ids"]
        bad_count += bad is not None
        suggestions.append(s)
    return json.dumps({"suggestions": suggestions}), len(suggestions), bad_count


class FakeGemini:
    """The app, its script and what it was asked."""

    def __init__(self, seed: int = 0) -> None:
        self.script: deque[FakeReply] = deque()
        self.default = FakeReply()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.written = 0  # suggestions answered
        self.ungrounded = 0  # of which made ungrounded on purpose
        self.rng = random.Random(seed)
        self.app = Starlette(routes=[Route("/{path:path}", self._answer, methods=["POST"])])

    def then(self, *replies: FakeReply) -> FakeGemini:
        self.script.extend(replies)
        return self

    async def _answer(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.paths.append(request.url.path)
        reply = self.script.popleft() if self.script else self.default
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            status = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}.get(reply.status, "ERROR")
            error = {"error": {"code": reply.status, "message": "fake", "status": status}}
            return JSONResponse(error, status_code=reply.status, headers=reply.headers)
        text, written, ungrounded = reply_text(findings_of(prompt_of(body)), reply, self.rng)
        self.written += written
        self.ungrounded += ungrounded
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": reply.tokens - 100,
                    "candidatesTokenCount": 100,
                    "totalTokenCount": reply.tokens,
                },
                "modelVersion": "fake-gemini",
            }
        )

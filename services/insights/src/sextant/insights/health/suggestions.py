"""From findings to suggestions: the prompt the model gets, the grounding check of what it
answers, and the templates that write suggestions when there is no model (or it failed).

The model sees the findings only: kinds, severities, evidence numbers, areas, and the
people as run-local pseudonyms (P1, P2, ...; never a developer id, a name or an email).
Work-item keys and texts stay out. What it answers must parse as :class:`ModelReply`;
then each suggestion is **grounded** or dropped and counted:

- it fails validation (a field missing, empty, too long) → ``invalid``;
- it cites a finding id the run did not give → ``unknown_finding``;
- it names a pseudonym that is not among the people of the findings it cites →
  ``unknown_person`` (a person who is in the run but not in those findings too: the claim
  would rest on nothing).

A reply that is not JSON of that shape at all drops as one ``malformed_reply``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, ValidationError

from sextant.insights.health.detectors import Finding, Severity

PROMPTS = Path(__file__).parent / "prompts"
Writer = Literal["model", "template"]
SEVERITY_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
_ALIAS = re.compile(r"\bP\d+\b")
# what of a finding's detail may reach the model (item keys never do)
_SHAREABLE_DETAIL = ("metric", "direction")


class ModelSuggestion(BaseModel):
    """One suggestion as the model must write it (the ``response_schema``)."""

    title: str = Field(min_length=3, max_length=120)
    action: str = Field(min_length=3, max_length=800)
    rationale: str = Field(default="", max_length=800)
    finding_ids: list[str] = Field(min_length=1, max_length=8)
    people: list[str] = Field(default_factory=list, max_length=8)


class ModelReply(BaseModel):
    suggestions: list[ModelSuggestion]


@dataclass(frozen=True)
class Draft:
    """A suggestion ready to store: ``aliases`` maps the pseudonyms its text uses to the
    developers they stand for (the portal shows names in their place)."""

    kind: str
    severity: Severity
    title: str
    action: str
    rationale: str
    finding_ids: tuple[str, ...]
    people: tuple[UUID, ...]
    area: str | None
    written_by: Writer
    aliases: dict[str, UUID] = field(default_factory=dict)


@dataclass(frozen=True)
class Grounded:
    drafts: list[Draft]
    dropped: Counter[str]


def aliases(findings: Sequence[Finding]) -> dict[UUID, str]:
    """P1, P2, ... in the order people first appear in the findings."""
    out: dict[UUID, str] = {}
    for f in findings:
        for person in f.people:
            out.setdefault(person, f"P{len(out) + 1}")
    return out


def prompt_findings(findings: Sequence[Finding], alias: dict[UUID, str]) -> list[dict[str, Any]]:
    """The findings as the model sees them: pseudonyms, numbers, no keys or texts."""
    return [
        {
            "id": f.id,
            "kind": f.kind,
            "severity": f.severity,
            "people": [alias[p] for p in f.people],
            "area": f.area,
            "evidence": f.evidence,
            **{k: f.detail[k] for k in _SHAREABLE_DETAIL if k in f.detail},
        }
        for f in findings
    ]


def render_prompt(version: str, findings: Sequence[Finding], alias: dict[UUID, str]) -> str:
    """The versioned prompt file with the findings filled in. FileNotFoundError for a
    version that has no file (a setting's typo fails the run's model path, not silently)."""
    if not re.fullmatch(r"v\d+", version):
        raise FileNotFoundError(f"prompt version {version!r} is not v<N>")
    template = (PROMPTS / f"{version}.txt").read_text()
    payload = json.dumps(prompt_findings(findings, alias), indent=1, sort_keys=True)
    return template.replace("{findings}", payload)


def _severity(cited: Sequence[Finding]) -> Severity:
    return max((f.severity for f in cited), key=lambda s: SEVERITY_ORDER[s])


def ground(reply: str, findings: Sequence[Finding], alias: dict[UUID, str]) -> Grounded:
    """Keep the model's suggestions that rest on the findings; count the others by reason."""
    dropped: Counter[str] = Counter()
    try:
        raw = json.loads(reply)
        items = raw["suggestions"] if isinstance(raw, dict) else None
    except (ValueError, TypeError):
        items = None
    if not isinstance(items, list):
        dropped["malformed_reply"] += 1
        return Grounded([], dropped)
    by_id = {f.id: f for f in findings}
    drafts = []
    for item in items:
        try:
            s = ModelSuggestion.model_validate(item)
        except ValidationError:
            dropped["invalid"] += 1
            continue
        if any(i not in by_id for i in s.finding_ids):
            dropped["unknown_finding"] += 1
            continue
        cited = [by_id[i] for i in dict.fromkeys(s.finding_ids)]
        allowed = {alias[p] for f in cited for p in f.people}
        named = set(s.people) | set(_ALIAS.findall(f"{s.title} {s.action} {s.rationale}"))
        if not named <= allowed:
            dropped["unknown_person"] += 1
            continue
        people = tuple(dict.fromkeys(p for f in cited for p in f.people))
        drafts.append(
            Draft(
                kind=cited[0].kind,
                severity=_severity(cited),
                title=s.title,
                action=s.action,
                rationale=s.rationale,
                finding_ids=tuple(f.id for f in cited),
                people=people,
                area=cited[0].area,
                written_by="model",
                aliases={alias[p]: p for p in people},
            )
        )
    return Grounded(drafts, dropped)


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def template(f: Finding, alias: dict[UUID, str]) -> Draft:
    """The suggestion a finding makes on its own, worded from its numbers."""
    names = [alias[p] for p in f.people]
    e = f.evidence
    first = names[0] if names else ""
    second = names[1] if len(names) > 1 else ""
    area = f.area or ""
    texts: dict[str, tuple[str, str, str]] = {
        "review_wait": (
            f"A change by {first} waits {e.get('wait_hours', 0):g} h for a first review",
            f"Ask a reviewer to pick up {first}'s change today.",
            f"It has waited {e.get('wait_hours', 0):g} h; the team's P85 is "
            f"{e.get('team_p85_hours', 0):g} h.",
        ),
        "reviewer_load": (
            f"{first} gives {_pct(e.get('top_share', 0))} of the team's reviews",
            "Spread reviews: rotate a second reviewer, or assign reviews round-robin.",
            f"A fair share would be {_pct(e.get('fair_share', 0))} of "
            f"{e.get('reviews', 0):g} reviews (Gini {e.get('gini', 0):g}).",
        ),
        "wip_overload": (
            f"{first} has {e.get('wip', 0):g} items in progress",
            f"Help {first} finish or hand over items before starting new ones.",
            f"The team's norm tops out at {e.get('threshold', 0):g} (median "
            f"{e.get('team_median', 0):g} + 3 MADs).",
        ),
        "assigned_while_stale": (
            f"{first} got new work while {e.get('stale_items', 0):g} items are stale",
            f"Unblock {first}'s stale items before assigning more.",
            f"{e.get('assigned_since_stale', 0):g} items were assigned after the first stale flag.",
        ),
        "knowledge_silo": (
            f"{first} wrote {_pct(e.get('author_share', 0))} of {area}'s changes this year",
            f"Have a teammate pair with {first} or review in {area} to share the knowledge.",
            f"{e.get('changes', 0):g} changes in the last year; one author is a bus factor of 1.",
        ),
        "pairing": (
            f"Pair {first} with {second} in {area}",
            f"{second} knows {area} well; a pairing session could unstick {first}'s change.",
            f"The change is open {e.get('open_hours', 0):g} h (team P85 "
            f"{e.get('team_p85_cycle_hours', 0):g} h); {second} made "
            f"{e.get('expert_changes_in_area', 0):g} changes there this year.",
        ),
        "redistribution": (
            f"Move a queued item in {area} from {first} to {second}",
            f"{second} has capacity and history in {area}; {first} is overloaded.",
            f"WIP {e.get('from_wip', 0):g} against {e.get('to_wip', 0):g} (team median "
            f"{e.get('team_median_wip', 0):g}); {second} made "
            f"{e.get('to_changes_in_area', 0):g} changes in {area}.",
        ),
        "flow_regression": (
            f"{f.detail.get('metric', 'a flow measure')} went {f.detail.get('direction', '')} "
            "over the last 4 weeks",
            "Look at what changed for the team lately (scope, process, people) in a retro.",
            f"Median {e.get('recent_median', 0):g} against {e.get('baseline_median', 0):g} "
            f"before (Mann-Whitney p = {e.get('p_value', 0):g}).",
        ),
    }
    title, action, rationale = texts[f.kind]
    return Draft(
        kind=f.kind,
        severity=f.severity,
        title=title,
        action=action,
        rationale=rationale,
        finding_ids=(f.id,),
        people=f.people,
        area=f.area,
        written_by="template",
        aliases={alias[p]: p for p in f.people},
    )


def complete(
    model_drafts: Sequence[Draft], findings: Sequence[Finding], alias: dict[UUID, str]
) -> list[Draft]:
    """The model's drafts, then a template for every finding none of them cites."""
    cited = {i for d in model_drafts for i in d.finding_ids}
    return [*model_drafts, *(template(f, alias) for f in findings if f.id not in cited)]

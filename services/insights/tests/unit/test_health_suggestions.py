"""The grounding check and the templates, on findings worked by hand."""

from __future__ import annotations

import json
from uuid import UUID

from sextant.insights.health.detectors import Finding
from sextant.insights.health.learning import acceptance, fresh, key, rank
from sextant.insights.health.suggestions import aliases, complete, ground, render_prompt, template

A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)
SILO = Finding(
    "silo-1", "knowledge_silo", "high", (A,), "billing", {"author_share": 0.9, "changes": 10}
)
LOAD = Finding(
    "load-2", "reviewer_load", "medium", (B,), None, {"top_share": 0.6, "fair_share": 0.2}
)
WIP = Finding("wip-3", "wip_overload", "medium", (C,), None, {"wip": 9}, detail={"item_key": "T-7"})
FINDINGS = [SILO, LOAD, WIP]
ALIAS = aliases(FINDINGS)  # A → P1, B → P2, C → P3


def reply(*suggestions: dict[str, object]) -> str:
    return json.dumps({"suggestions": list(suggestions)})


def s(ids: list[str], people: list[str], action: str = "Pair up.") -> dict[str, object]:
    return {"title": "Do it", "action": action, "finding_ids": ids, "people": people}


def test_aliases_in_order_of_appearance() -> None:
    assert ALIAS == {A: "P1", B: "P2", C: "P3"}


def test_the_prompt_has_pseudonyms_and_numbers_but_no_ids_or_keys() -> None:
    prompt = render_prompt("v1", FINDINGS, ALIAS)
    assert str(A) not in prompt and "T-7" not in prompt
    assert '"P3"' in prompt and '"author_share": 0.9' in prompt


def test_grounded_suggestions_are_kept_with_the_cited_findings_people() -> None:
    both = s(["silo-1", "load-2"], ["P1", "P2"], "P2 could review in billing with P1.")
    result = ground(reply(both), FINDINGS, ALIAS)
    assert result.dropped == {}
    (draft,) = result.drafts
    assert (draft.kind, draft.severity, draft.people) == ("knowledge_silo", "high", (A, B))
    assert draft.aliases == {"P1": A, "P2": B}
    assert draft.written_by == "model"


def test_ungrounded_suggestions_are_dropped_by_reason() -> None:
    result = ground(
        reply(
            s(["silo-9"], ["P1"]),  # no such finding
            s(["silo-1"], ["P3"]),  # P3 is in the run, not in the silo finding
            s(["silo-1"], [], "Ask P2 to help."),  # named in the text only
            {"title": "x", "finding_ids": ["silo-1"]},  # too short, no action
            s(["load-2"], ["P2"]),  # fine
        ),
        FINDINGS,
        ALIAS,
    )
    assert result.dropped == {"unknown_finding": 1, "unknown_person": 2, "invalid": 1}
    assert [d.finding_ids for d in result.drafts] == [("load-2",)]


def test_a_reply_that_is_not_the_shape_drops_once() -> None:
    assert ground("not json", FINDINGS, ALIAS).dropped == {"malformed_reply": 1}
    assert ground("[1, 2]", FINDINGS, ALIAS).dropped == {"malformed_reply": 1}


def test_templates_fill_what_the_model_left() -> None:
    kept = ground(reply(s(["load-2"], ["P2"])), FINDINGS, ALIAS).drafts
    drafts = complete(kept, FINDINGS, ALIAS)
    assert [(d.finding_ids, d.written_by) for d in drafts] == [
        (("load-2",), "model"),
        (("silo-1",), "template"),
        (("wip-3",), "template"),
    ]
    silo = template(SILO, ALIAS)
    assert silo.title == "P1 wrote 90 % of billing's changes this year"
    assert silo.aliases == {"P1": A}


def test_acceptance_is_the_beta_posterior_mean_and_ranks_by_severity() -> None:
    assert acceptance(0, 0) == 0.5
    assert acceptance(3, 1) == 4 / 6
    assert acceptance(0, 8) == 0.1
    # high 3 * 0.1 = 0.3 falls below medium 2 * (1+4)/(2+4) = 1.6667
    assert rank("high", 0, 8) == 0.3
    assert rank("medium", 4, 0) == round(2 * 5 / 6, 6)


def test_a_held_suggestion_is_not_repeated_and_drafts_not_twice() -> None:
    silo = template(SILO, ALIAS)
    load = template(LOAD, ALIAS)
    assert fresh([silo, load, silo], [key("reviewer_load", [B], None)]) == [silo]
    assert fresh([silo], [key("knowledge_silo", [A], "web")]) == [silo]  # another area

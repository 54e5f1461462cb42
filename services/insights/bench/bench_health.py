"""The team-health detectors against synthetic teams with planted problems.

    .venv/bin/python services/insights/bench/bench_health.py [--teams 600] [--seed 1]

A population of seeded synthetic teams (health/synthetic.py): in turn a clean team, each
of the four problems alone (overloaded reviewer, silo, stuck newcomer, overloaded
assignee) and all four together. Prints the share of plants found (target >= 90 %), the
share of findings no plant explains (target <= 10 %), the share of clean teams with any
finding, and the detection time per team.

Then the grounding check with the fake Gemini (health/testing.py) served on loopback and
the real google-genai SDK: ``--grounding-teams`` planted teams' findings sent to it, the
fake making ``--hallucinate`` of its suggestions cite an unknown finding or name an
unknown person. Prints the share of model suggestions dropped and whether the check
dropped exactly the ungrounded ones (none kept, none good dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from pydantic import SecretStr

from sextant.insights.health.detectors import detect
from sextant.insights.health.gemini import Gemini, suggest
from sextant.insights.health.synthetic import evaluate, population
from sextant.insights.health.testing import FakeGemini, FakeReply
from sextant.insights.settings import HealthSettings
from sextant.runtime.testing.apps import served


async def grounding(teams: int, hallucinate: float, seed: int) -> tuple[int, int, int, int]:
    """(suggestions written, made ungrounded, dropped, kept from the model)."""
    fake = FakeGemini(seed)
    fake.default = FakeReply(hallucinate=hallucinate)
    dropped = kept = 0
    async with served(fake.app) as url:
        settings = HealthSettings(
            gemini_api_key=SecretStr("fake"), gemini_base_url=url, gemini_attempts=1
        )
        gemini = Gemini(settings)
        try:
            for t in population(seed + 7, teams * 6 // 5)[:teams]:
                findings = detect(t.activity)
                if not findings:
                    continue
                outcome = await suggest(
                    findings, gemini, tokens_left=10**9, prompt_version=settings.prompt_version
                )
                dropped += sum(outcome.dropped.values())
                kept += sum(1 for d in outcome.drafts if d.written_by == "model")
        finally:
            await gemini.aclose()
    return fake.written, fake.ungrounded, dropped, kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grounding-teams", type=int, default=60)
    parser.add_argument("--hallucinate", type=float, default=0.15)
    args = parser.parse_args()
    teams = population(args.seed, args.teams)
    result = evaluate(teams)
    timings = []
    for t in teams[:100]:
        start = time.perf_counter()
        detect(t.activity)
        timings.append(time.perf_counter() - start)
    print(f"health detectors over {len(teams)} synthetic teams (seed {args.seed})")
    print(
        f"  planted problems found: {result.found}/{result.planted} = {result.recall:.1%}"
        " (target >= 90 %)"
    )
    for problem, recall in result.recall_by_problem.items():
        print(f"    {problem:<22} {recall:.1%}")
    print(
        f"  findings no plant explains: {result.false_findings}/{result.findings}"
        f" = {result.false_share:.1%} (target <= 10 %)"
    )
    print(
        f"  clean teams with any finding: {result.clean_teams_alarmed}/{result.clean_teams}"
        f" = {result.clean_alarm_rate:.1%}"
    )
    print(f"  detection per team: median {statistics.median(timings) * 1000:.2f} ms")
    written, ungrounded, dropped, kept = asyncio.run(
        grounding(args.grounding_teams, args.hallucinate, args.seed)
    )
    print(f"grounding check, fake Gemini on loopback ({args.hallucinate:.0%} made ungrounded)")
    print(f"  model suggestions dropped: {dropped}/{written} = {dropped / max(written, 1):.1%}")
    exact = dropped == ungrounded and kept == written - ungrounded
    print(
        f"  ungrounded {ungrounded}, dropped {dropped}, kept {kept}: "
        + ("exactly the ungrounded dropped" if exact else "MISMATCH")
    )
    met = result.recall >= 0.9 and result.false_share <= 0.1 and exact
    print("  targets met" if met else "  TARGETS NOT MET")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

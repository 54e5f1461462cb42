"""The team-health detectors against synthetic teams with planted problems.

    .venv/bin/python services/insights/bench/bench_health.py [--teams 600] [--seed 1]

A population of seeded synthetic teams (health/synthetic.py): in turn a clean team, each
of the four problems alone (overloaded reviewer, silo, stuck newcomer, overloaded
assignee) and all four together. Prints the share of plants found (target >= 90 %), the
share of findings no plant explains (target <= 10 %), the share of clean teams with any
finding, and the detection time per team.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from sextant.insights.health.detectors import detect
from sextant.insights.health.synthetic import evaluate, population


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
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
    met = result.recall >= 0.9 and result.false_share <= 0.1
    print("  targets met" if met else "  TARGETS NOT MET")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""The deployment ↔ change rule on hand-worked histories (the README's worked example).

main:     A ── S1 ──────────── M2 ── r1' ── r2'
               (squash of #1)  │ (merge of #2)  (rebase of #3)
feature:  A ── b1 ── b2        c1 ── c2 (from S1)
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from sextant.insights.domain.linkage import (
    Change,
    Deployment,
    Push,
    Shipped,
    link_deployments,
    parent_edges,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
OLD = UUID(int=1)  # merged before anything was deployed: A is its merge SHA
SQUASHED, MERGED, REBASED = UUID(int=2), UUID(int=3), UUID(int=4)
D1, D2, D3, D4, D5, STAGING = (UUID(int=10 + i) for i in range(6))

PUSHES = [
    Push(before_sha=None, commit_shas=["A"]),
    Push(before_sha="A", commit_shas=["b1", "b2"]),  # feature/1
    Push(before_sha="A", commit_shas=["S1"]),  # main: #1 squashed
    Push(before_sha="S1", commit_shas=["c1", "c2"]),  # feature/2
    Push(before_sha="S1", commit_shas=["c1", "c2", "M2"]),  # main: #2's merge commit
    Push(before_sha="M2", commit_shas=["r1'", "r2'"]),  # main: #3 rebased
]
CHANGES = [
    Change(OLD, merge_sha="A"),
    Change(SQUASHED, merge_sha="S1", commit_shas=["b1", "b2"]),
    Change(MERGED, merge_sha="M2", commit_shas=["c1", "c2"]),
    # A rebase merge rewrites the commits: the change lists the originals, main the copies.
    Change(REBASED, merge_sha="r2'", commit_shas=["r1", "r2"]),
]


def deployed(id: UUID, sha: str, hours: int, environment: str = "production") -> Deployment:
    return Deployment(id, environment, sha, T0 + timedelta(hours=hours))


def test_each_deployment_ships_what_lies_between_it_and_the_previous_one() -> None:
    deployments = [deployed(D1, "A", 0), deployed(D2, "S1", 1), deployed(D3, "r2'", 2)]

    shipped = link_deployments(deployments, CHANGES, PUSHES)

    assert shipped == [
        Shipped(D1, OLD, counted=False),  # the first deployment seen inherits A
        Shipped(D2, SQUASHED, counted=True),  # the squash commit is the merge SHA
        Shipped(D3, MERGED, counted=True),  # the merge commit, reached through r1'
        Shipped(D3, REBASED, counted=True),  # the last rebased copy is the merge SHA
    ]


def test_first_deployment_inherits_everything_it_reaches_and_counts_none() -> None:
    shipped = link_deployments([deployed(D3, "r2'", 2)], CHANGES, PUSHES)

    assert shipped == [
        Shipped(D3, OLD, counted=False),
        Shipped(D3, SQUASHED, counted=False),
        Shipped(D3, MERGED, counted=False),
        Shipped(D3, REBASED, counted=False),
    ]


def test_rollback_and_redeploy_ship_nothing_again() -> None:
    deployments = [
        deployed(D1, "A", 0),
        deployed(D3, "r2'", 2),
        deployed(D4, "M2", 3),  # rolled back
        deployed(D5, "r2'", 4),  # and forward again
    ]

    shipped = link_deployments(deployments, CHANGES, PUSHES)

    assert {s.deployment_id for s in shipped} == {D1, D3}
    assert [s.change_id for s in shipped if s.deployment_id == D3] == [SQUASHED, MERGED, REBASED]


def test_each_environment_has_its_own_previous_deployment() -> None:
    deployments = [
        deployed(D1, "A", 0),
        deployed(D2, "S1", 1),
        deployed(STAGING, "S1", 1, environment="staging"),  # staging's first: inherited
    ]

    shipped = link_deployments(deployments, CHANGES, PUSHES)

    assert Shipped(D2, SQUASHED, counted=True) in shipped
    assert Shipped(STAGING, SQUASHED, counted=False) in shipped
    assert Shipped(STAGING, OLD, counted=False) in shipped
    assert len(shipped) == 4


def test_a_deployment_seen_before_its_push_links_fully_once_the_push_arrives() -> None:
    deployments = [deployed(D1, "A", 0), deployed(D2, "S1", 1), deployed(D3, "r2'", 2)]
    without_main_pushes = PUSHES[:2] + PUSHES[3:4] + [PUSHES[2]]  # #2 and #3's not yet

    early = link_deployments(deployments, CHANGES, without_main_pushes)
    late = link_deployments(deployments, CHANGES, list(reversed(PUSHES)))

    # Before the pushes, D3 reaches only its own SHA: #3's merge SHA, not #2's.
    assert [s.change_id for s in early if s.deployment_id == D3] == [REBASED]
    assert late == link_deployments(deployments, CHANGES, PUSHES)
    assert [s.change_id for s in late if s.deployment_id == D3] == [MERGED, REBASED]


def test_a_forced_push_does_not_chain_to_the_commit_it_replaced() -> None:
    parents = parent_edges([Push(before_sha="X", commit_shas=["Y", "Z"], forced=True)])

    assert parents == {"Z": {"Y"}}


def test_deployments_out_of_order_in_the_input_are_taken_in_time_order() -> None:
    deployments = [deployed(D3, "r2'", 2), deployed(D1, "A", 0), deployed(D2, "S1", 1)]

    shipped = link_deployments(deployments, CHANGES, PUSHES)

    assert Shipped(D2, SQUASHED, counted=True) in shipped
    assert Shipped(D1, OLD, counted=False) in shipped


@given(
    st.permutations(
        [
            deployed(D1, "A", 0),
            deployed(D2, "S1", 1),
            deployed(STAGING, "S1", 1, environment="staging"),
            deployed(D3, "r2'", 2),
        ]
    ),
    st.permutations(CHANGES),
    st.permutations(PUSHES),
)
def test_the_order_the_rows_are_read_in_does_not_matter(
    deployments: list[Deployment], changes: list[Change], pushes: list[Push]
) -> None:
    """The relink reads a repository's deployments, changes and pushes in no set order
    (and a late event's row can come anywhere among them)."""
    assert link_deployments(deployments, changes, pushes) == [
        Shipped(D1, OLD, counted=False),
        Shipped(D2, SQUASHED, counted=True),
        Shipped(D3, MERGED, counted=True),
        Shipped(D3, REBASED, counted=True),
        Shipped(STAGING, OLD, counted=False),
        Shipped(STAGING, SQUASHED, counted=False),
    ]

"""Identity attributes every actor of an activity event to a developer on real PostgreSQL
and the local bus, re-emits the event as activity.attributed, and merges developers when
a new alias links them — announcing the merge."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime

import asyncpg

from sextant.contracts import Envelope, EventModel, from_kafka_binary, uuid7
from sextant.contracts.events.activity import (
    ChangeRequest,
    ChangeRequestMerged,
    Commit,
    CommitsPushed,
)
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.contracts.topics import ACTIVITY, entity_key
from sextant.identity.main import SPEC
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

TENANT, WORKSPACE, SOURCE = uuid7(), uuid7(), uuid7()
NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
REPO = Repository(external_id="1", full_name="octo-org/octo-repo")
OCTOCAT = Actor(
    kind="github", account_id="583231", login="octocat", display_name="Mona Lisa Octocat"
)
DEPENDABOT = Actor(kind="github", account_id="49699333", login="dependabot[bot]", is_bot=True)


def merged(author: Actor, number: int) -> ChangeRequestMerged:
    cr = ChangeRequest(
        source=SourceRef(kind="github", source_id=SOURCE, external_id=str(number)),
        repository=REPO,
        number=number,
        title="t",
        author=author,
        base_branch="main",
        head_branch="x",
        created_at=NOW,
    )
    return ChangeRequestMerged(change_request=cr, merge_sha="a" * 40, merged_at=NOW)


def pushed(*authors: Actor) -> CommitsPushed:
    commits = [
        Commit(sha=str(i) * 40, title="c", author=a, authored_at=NOW) for i, a in enumerate(authors)
    ]
    return CommitsPushed(
        source=SourceRef(kind="github", source_id=SOURCE, external_id="p"),
        repository=REPO,
        branch="x",
        after_sha="f" * 40,
        commits=commits,
        occurred_at=NOW,
    )


async def published(dsn: str, topic: str, expect: int) -> list[Envelope]:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(100):
            rows = await conn.fetch(
                'SELECT headers::text AS h, value FROM sextant_bus.records WHERE topic = $1 ORDER BY "offset"',
                topic,
            )
            if len(rows) >= expect:
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return [
        from_kafka_binary([(n, base64.b64decode(v)) for n, v in json.loads(r["h"])], r["value"])
        for r in rows
    ]


async def test_actors_become_developers_and_events_come_back_attributed(
    database_url: str, internal_keys: InternalKeys
) -> None:
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):

        async def emit(event: EventModel, entity: str) -> None:
            envelope = Envelope.wrap(
                event,
                source="/sextant/ingest",
                tenantid=TENANT,
                workspaceid=WORKSPACE,
                subject=entity,
            )
            await state.bus.publish(
                [record_for(envelope, ACTIVITY.name, entity_key(TENANT, WORKSPACE, entity))]
            )

        await emit(merged(OCTOCAT, 1), "cr:1")
        noreply = Actor(
            kind="github",
            email="583231+octocat@users.noreply.github.com",
            display_name="Mona Lisa Octocat",
        )
        await emit(pushed(noreply, DEPENDABOT), "branch:x")
        attributed = sorted(
            await published(dsn, "sextant.activity.attributed", 2),
            key=lambda e: e.data["original_type"],
        )
        assert [e.data["original_type"] for e in attributed] == [
            "sextant.activity.change_request.merged.v1",
            "sextant.activity.commits.pushed.v1",
        ]
        author = attributed[0].data["attributions"][0]
        assert author["path"] == "change_request.author"
        commit_authors = {a["path"]: a["developer_id"] for a in attributed[1].data["attributions"]}
        assert commit_authors["commits[0].author"] == author["developer_id"]  # the noreply address
        assert commit_authors["commits[1].author"] != author["developer_id"]  # the bot
        assert attributed[1].subject == "branch:x"  # same partition key as the original

        token = internal_keys.signer.mint(
            service="identity", subject="m", role="manager", tenant_id=TENANT
        )
        headers = {"Authorization": f"Bearer {token}"}
        humans = (await client.get("/v1/developers", headers=headers)).json()["items"]
        assert [(d["display_name"], d["aliases"]) for d in humans] == [("Mona Lisa Octocat", 2)]
        everyone = (
            await client.get("/v1/developers", params={"include_bots": True}, headers=headers)
        ).json()
        assert len(everyone["items"]) == 2
        detail = (await client.get(f"/v1/developers/{humans[0]['id']}", headers=headers)).json()
        rules = {e["rule"] for a in detail["aliases"] for e in a["evidence"]}
        assert "GitHub noreply address of the account" in rules
        # Each attribution names the alias it came under (what a split or a move names).
        named = {author["alias_id"], attributed[1].data["attributions"][0]["alias_id"]}
        assert named == {a["id"] for a in detail["aliases"]}
        bot_alias = attributed[1].data["attributions"][1]["alias_id"]
        assert bot_alias is not None and bot_alias not in named

        # A third alias links two developers: they merge, and the merge is announced.
        jira = Actor(
            kind="jira",
            account_id="5b10",
            email="mona@octo.example.org",
            display_name="Mona Octocat",
        )
        await emit(merged(jira, 2), "cr:2")
        bridge = Actor(
            kind="gitlab",
            account_id="7",
            email="mona@octo.example.org",
            login="mona",
            display_name="Mona Lisa Octocat",
        )
        # Same key as the Jira alias: on one partition, so the bridge surely comes second
        # (on another, it could arrive first and join Mona before Jira needs merging).
        await emit(merged(bridge, 3), "cr:2")
        [announcement] = [
            e
            for e in await published(dsn, "sextant.identity", 5)  # 3 created, suggested, merged
            if e.type == "sextant.identity.developers.merged.v1"
        ]
        assert announcement.data["survivor_id"] == author["developer_id"]
        humans = (await client.get("/v1/developers", headers=headers)).json()["items"]
        assert [(d["display_name"], d["aliases"]) for d in humans] == [("Mona Lisa Octocat", 4)]
        merged_away = announcement.data["merged_ids"][0]
        gone = await client.get(f"/v1/developers/{merged_away}", headers=headers)
        assert gone.status_code == 404 and gone.json()["merged_into"] == author["developer_id"]

        other = internal_keys.signer.mint(
            service="identity", subject="x", role="manager", tenant_id=uuid7()
        )
        assert (
            await client.get("/v1/developers", headers={"Authorization": f"Bearer {other}"})
        ).json()["items"] == []

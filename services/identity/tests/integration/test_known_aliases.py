"""This process remembers where an alias it placed went, but only once the placement
commits: a rolled-back transaction leaves no answer behind."""

from __future__ import annotations

import pytest

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import Commit, CommitsPushed
from sextant.contracts.events.common import Repository, SourceRef
from sextant.identity import attribution
from sextant.identity.handlers import OUTBOX

from .conftest import NOW, Identity, person


async def test_a_placed_alias_is_remembered_once_its_transaction_commits(
    identity: Identity,
) -> None:
    ada = person("Ada Lovelace", "ada@engine.example.org")
    data = CommitsPushed(
        source=SourceRef(kind="generic", source_id=uuid7(), external_id="p"),
        repository=Repository(external_id="1", full_name="o/r"),
        branch="main",
        after_sha="f" * 40,
        commits=[Commit(sha="a" * 40, title="c", author=ada, authored_at=NOW)],
        occurred_at=NOW,
    )
    envelope = Envelope.wrap(data, source="/sextant/ingest", tenantid=identity.tenant)
    print_ = attribution.fingerprint(ada)
    with pytest.raises(RuntimeError):
        async with identity.state.db.transaction(identity.tenant) as session:
            await attribution.attribute(session, OUTBOX, envelope)
            raise RuntimeError("the consumer's transaction fails after the handler")
    assert attribution.KNOWN.get(identity.tenant, print_) is None

    [developer] = await identity.attribute(ada)
    assert attribution.KNOWN.get(identity.tenant, print_) == developer
    listed = await identity.client.get("/v1/developers", headers=identity.member)
    assert [d["id"] for d in listed.json()["items"]] == [str(developer)]

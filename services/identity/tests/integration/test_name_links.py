"""The service weighs a name as the batch resolver does: against the tenant's own
population of names. A namesake in a crowd of common names is suggested, a rare name
merges, and both record what they were scored on."""

from __future__ import annotations

from .conftest import Identity, person
from .test_merge_suggestions import pending


async def test_a_common_name_is_suggested_and_a_rare_one_merges(identity: Identity) -> None:
    # Twenty given names times twenty surnames: another "Given0 Sur0" is to be expected.
    crowd = [
        person(f"Given{chr(97 + g)} Sur{chr(97 + s)}", f"p{g}-{s}@x{g}-{s}.test")
        for g in range(20)
        for s in range(20)
    ]
    placed = await identity.attribute(*crowd)
    assert len(set(placed)) == 400
    [namesake] = await identity.attribute(person("Givena Sura", "someone@else.test"))
    assert namesake not in placed
    [suggestion] = await pending(identity)
    assert set(suggestion["developer_ids"]) == {str(placed[0]), str(namesake)}  # type: ignore[arg-type]
    assert float(suggestion["score"]) < 0.75  # type: ignore[arg-type]
    evidence = suggestion["evidence"]
    assert isinstance(evidence, list) and "name:givena sura" in evidence
    assert any("among 400" in e for e in evidence)

    first, second = await identity.attribute(
        person("Zebulon Quarrington", "zq@one.test"), person("Zebulon Quarrington", "z@two.test")
    )
    assert first == second

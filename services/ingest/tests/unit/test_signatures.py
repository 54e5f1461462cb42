"""Each scheme accepts a correct signature and refuses every forgery Hypothesis can make.

The forged-signature property runs at least 10,000 mutations per scheme (the ingest
issue's bar): tampered body, wrong secret, truncated or case-changed signature, missing
header, another source's signature, and for ``generic`` a stale timestamp.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sextant.ingest import signatures
from sextant.ingest.signatures import SignatureRejected, verify

from ..fixtures import signing

NOW = 1_800_000_000
SECRETS = {kind: signatures.new_secret(kind) for kind in ("github", "gitlab", "jira", "generic")}
# A GitLab signing token is Standard Webhooks under GitLab's headers: every mutation applies.
SECRETS["gitlab-signed"] = signatures.new_secret("generic")
OTHER = {
    kind: signatures.new_secret("generic" if kind == "gitlab-signed" else kind)  # type: ignore[arg-type]
    for kind in SECRETS
}
# The classic X-Gitlab-Token does not cover the body: body mutations cannot apply to it.
BODY_MUTATIONS_APPLY = {"github", "jira", "generic", "gitlab-signed"}


def scheme(kind: str) -> str:
    return "gitlab" if kind.startswith("gitlab") else kind


def sign(
    kind: str, secret: str, body: bytes, *, msg_id: str = "msg_1", at: int = NOW
) -> dict[str, str]:
    """The headers the tool would send for ``body`` (fixed ids and time)."""
    ids = {"github": "d-1", "jira": "j-1", "gitlab": "g-1", "gitlab-signed": "g-1"}
    return signing.sign(kind, secret, body, delivery=ids.get(kind, msg_id), at=at)


SIGNATURE_HEADER = {
    "github": "x-hub-signature-256",
    "jira": "x-hub-signature",
    "gitlab": "x-gitlab-token",
    "generic": "webhook-signature",
    "gitlab-signed": "webhook-signature",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_a_correct_signature_is_accepted_with_the_delivery_id(kind: str) -> None:
    body = b'{"hello": "world"}'
    headers = sign(kind, SECRETS[kind], body)
    delivery = verify(scheme(kind), SECRETS[kind], headers, body, now=NOW)  # type: ignore[arg-type]
    assert delivery.delivery_id in {"d-1", "j-1", "g-1", "msg_1"}


def test_jira_without_an_identifier_dedupes_by_body_hash() -> None:
    body = b'{"webhookEvent": "jira:issue_created"}'
    headers = sign("jira", SECRETS["jira"], body)
    del headers["x-atlassian-webhook-identifier"]
    first = verify("jira", SECRETS["jira"], headers, body, now=NOW)
    assert first.delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()


def test_generic_accepts_any_of_several_signatures_for_key_rotation() -> None:
    body = b"{}"
    good = sign("generic", SECRETS["generic"], body)
    old = sign("generic", OTHER["generic"], body)
    good["webhook-signature"] = f"{old['webhook-signature']} {good['webhook-signature']}"
    assert verify("generic", SECRETS["generic"], good, body, now=NOW).delivery_id == "msg_1"


def test_a_generic_secret_must_be_whsec_base64() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        signatures.check_secret_format("generic", "plain-text-secret-long-enough")
    with pytest.raises(ValueError, match="at least 16"):
        signatures.check_secret_format("github", "short")


def test_a_gitlab_signing_token_must_decode_to_be_accepted_as_a_secret() -> None:
    # a malformed one would otherwise be stored, and every delivery to it would fail
    with pytest.raises(ValueError, match="'whsec_' \\+ base64"):
        signatures.check_secret_format("gitlab", "whsec_not*base64*at*all!")
    with pytest.raises(ValueError, match="16 bytes"):
        signatures.check_secret_format("gitlab", "whsec_c2hvcnQta2V5LTEy")
    signatures.check_secret_format("gitlab", SECRETS["gitlab-signed"])
    signatures.check_secret_format("gitlab", "a-classic-x-gitlab-token")


def _flip_case(value: str) -> str:
    flipped = value.swapcase()
    return flipped if flipped != value else value + "A"


Mutation = Callable[
    [str, bytes, dict[str, str], st.DataObject], tuple[dict[str, str], bytes, float]
]


def tampered_body(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    extra = data.draw(st.binary(min_size=1, max_size=8))
    position = data.draw(st.integers(0, len(body)))
    return headers, body[:position] + extra + body[position:], NOW


def wrong_secret(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    guess = data.draw(st.binary(min_size=16, max_size=40))
    secret = (
        "whsec_" + base64.b64encode(guess).decode()
        if SECRETS[kind].startswith("whsec_")
        else guess.hex()
    )
    return sign(kind, secret, body), body, NOW


def truncated_signature(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    name = SIGNATURE_HEADER[kind]
    cut = data.draw(st.integers(0, len(headers[name]) - 1))
    return {**headers, name: headers[name][:cut]}, body, NOW


def case_changed_signature(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    name = SIGNATURE_HEADER[kind]
    return {**headers, name: _flip_case(headers[name])}, body, NOW


def missing_header(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    standard = ["webhook-id", "webhook-timestamp", "webhook-signature"]
    required = (
        standard if SIGNATURE_HEADER[kind] == "webhook-signature" else [SIGNATURE_HEADER[kind]]
    )
    dropped = data.draw(st.sampled_from(required))
    return {k: v for k, v in headers.items() if k != dropped}, body, NOW


def another_bodys_signature(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    other_body = data.draw(st.binary(max_size=64).filter(lambda b: b != body))
    return sign(kind, SECRETS[kind], other_body), body, NOW


def another_sources_signature(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    return sign(kind, OTHER[kind], body), body, NOW


def stale_timestamp(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    skew = data.draw(st.integers(301, 10**7)) * data.draw(st.sampled_from([-1, 1]))
    if SIGNATURE_HEADER[kind] != "webhook-signature":  # only Standard Webhooks signs a time
        return wrong_secret(kind, body, headers, data)
    return sign(kind, SECRETS[kind], body, at=NOW + skew), body, NOW


def random_signature(kind: str, body: bytes, headers: dict[str, str], data: st.DataObject):  # type: ignore[no-untyped-def]
    name = SIGNATURE_HEADER[kind]
    return {**headers, name: data.draw(st.text(max_size=90))}, body, NOW


MUTATIONS = [
    tampered_body,
    wrong_secret,
    truncated_signature,
    case_changed_signature,
    missing_header,
    another_bodys_signature,
    another_sources_signature,
    stale_timestamp,
    random_signature,
]
FORGERIES_PER_SCHEME = 10_000


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_no_forged_delivery_is_accepted(kind: str) -> None:
    accepted: list[str] = []
    tried = 0

    mutations = [
        m
        for m in MUTATIONS
        if kind in BODY_MUTATIONS_APPLY or m not in (tampered_body, another_bodys_signature)
    ]

    @settings(
        max_examples=FORGERIES_PER_SCHEME,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(body=st.binary(max_size=256), mutation=st.sampled_from(mutations), data=st.data())
    def forge(body: bytes, mutation: Mutation, data: st.DataObject) -> None:
        nonlocal tried
        headers, sent_body, now = mutation(kind, body, sign(kind, SECRETS[kind], body), data)
        tried += 1
        try:
            verify(scheme(kind), SECRETS[kind], headers, sent_body, now=now)  # type: ignore[arg-type]
        except SignatureRejected:
            return
        accepted.append(f"{mutation.__name__}: {headers!r}")

    forge()
    assert tried >= FORGERIES_PER_SCHEME
    assert accepted == []

"""Standard Webhooks signing and the retry schedule, against the specification's own
test vector and worked numbers (not values this code produced)."""

from __future__ import annotations

import base64

import pytest

from sextant.gateway.domain import webhooks
from sextant.runtime.backoff import retry_delay

# The test vector published with the Standard Webhooks specification (and Svix's docs).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_matches_the_specifications_test_vector() -> None:
    assert webhooks.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_signed_headers_carry_id_timestamp_and_signature() -> None:
    headers = webhooks.signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SPEC_SIGNATURE,
        "content-type": "application/json",
    }


def test_a_changed_body_or_timestamp_changes_the_signature() -> None:
    assert webhooks.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, b'{"test": 1}') != (
        SPEC_SIGNATURE
    )
    assert webhooks.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY) != (
        SPEC_SIGNATURE
    )


def test_a_new_secret_is_whsec_and_32_bytes_of_the_source() -> None:
    secret = webhooks.new_secret(lambda n: bytes(range(n)))
    assert secret == "whsec_" + base64.b64encode(bytes(range(32))).decode()
    assert webhooks.signing_key(secret) == bytes(range(32))


@pytest.mark.parametrize(
    ("attempt", "unit", "expected"),
    [
        (1, 0.999, 4.995),  # the first retry waits under the base (5 s)
        (1, 0.5, 2.5),
        (3, 0.5, 10.0),  # 5 * 2**2 = 20, half of it
        (4, 1.0, 40.0),
        (12, 1.0, 3600.0),  # 5 * 2**11 = 10240: capped at an hour
        (2, 0.0, 0.0),
    ],
)
def test_retries_back_off_exponentially_with_full_jitter_up_to_the_cap(
    attempt: int, unit: float, expected: float
) -> None:
    assert retry_delay(attempt, 5.0, 3600.0, unit) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "taken"),
    [(200, True), (204, True), (299, True), (301, False), (404, False), (500, False)],
)
def test_only_a_2xx_answer_counts_as_delivered(status: int, taken: bool) -> None:
    assert webhooks.delivered(status) is taken

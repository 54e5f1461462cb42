"""PKCE's S256 challenge against RFC 7636's worked example (Appendix B)."""

from __future__ import annotations

import re

from sextant.runtime.pkce import challenge_of, pkce_pair


def test_the_challenge_of_the_rfcs_verifier_is_the_rfcs_challenge() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_of(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_new_verifier_is_long_unreserved_and_fresh_each_time() -> None:
    verifier, challenge = pkce_pair()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,128}", verifier)  # RFC 7636 §4.1
    assert challenge == challenge_of(verifier)
    assert pkce_pair()[0] != verifier

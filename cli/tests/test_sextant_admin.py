"""`sextant tenant create`, `sextant token create` and `sextant audit verify`, run as a
person runs them, against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import jwt

from sextant.gateway.authn import ensure_local_issuer

SEXTANT = [sys.executable, "-m", "sextant.cli"]


def sextant(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [*SEXTANT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_tenant_and_its_tokens_are_made_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    made = sextant(database_url, "tenant", "create", "Acme", "--data-dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    tenant = UUID(made.stdout.strip())

    token = sextant(
        database_url, "token", "create", "--role", "manager", "--tenant", str(tenant),
        "--subject", "ada@acme", "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert token.returncode == 0, token.stderr
    issuer = ensure_local_issuer(tmp_path)
    claims = jwt.decode(
        token.stdout.strip(), issuer.jwk.key, algorithms=["EdDSA"], audience="sextant"
    )
    assert claims["sextant_tenant"] == str(tenant) and claims["sextant_role"] == "manager"
    assert claims["sub"] == "ada@acme" and claims["exp"] - claims["iat"] == 3600

    for bad, says in (
        (["--role", "manager", "--tenant", str(UUID(int=5))], "no tenant"),
        (["--role", "manager"], "needs --tenant"),
        (["--role", "owner", "--tenant", str(tenant)], "role must be one of"),
        (["--role", "manager", "--tenant", "acme"], "is not a tenant id"),
    ):
        refused = sextant(database_url, "token", "create", *bad, "--data-dir", str(tmp_path))
        assert refused.returncode == 2 and says in refused.stderr, (bad, refused.stderr)

    empty = sextant(database_url, "tenant", "create", "  ", "--data-dir", str(tmp_path))
    assert empty.returncode == 2

    verified = sextant(database_url, "audit", "verify", "--data-dir", str(tmp_path))
    assert verified.returncode == 0, verified.stderr

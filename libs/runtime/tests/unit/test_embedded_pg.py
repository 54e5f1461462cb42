"""Which process ``postmaster.pid`` names: a killed server's file outlives it, and its pid
may since belong to any other process, which must never be taken for (or stopped as)
the server."""

import os
import subprocess
import time
from pathlib import Path

from sextant.runtime.embedded_pg import EmbeddedPostgres, process_alive


def server_with_pid_file(tmp_path: Path, pid: int) -> EmbeddedPostgres:
    server = EmbeddedPostgres(tmp_path / "pg", port=5999)
    server.pgdata.mkdir(parents=True)
    (server.pgdata / "postmaster.pid").write_text(
        f"{pid}\n{server.pgdata}\n1796549002\n5999\n{server.data_dir}\n127.0.0.1\n  1  4\nready   \n"
    )
    return server


def test_a_pid_file_naming_another_live_process_is_not_a_running_server(tmp_path: Path) -> None:
    server = server_with_pid_file(tmp_path, os.getpid())  # alive, but working elsewhere
    assert server.postmaster_pid() is None
    assert not server.running()


def test_a_pid_file_naming_a_finished_process_is_not_a_running_server(tmp_path: Path) -> None:
    server = server_with_pid_file(tmp_path, 2**22 + 1)  # above Linux's largest pid_max
    assert server.postmaster_pid() is None


def test_the_status_line_of_the_pid_file_is_read(tmp_path: Path) -> None:
    server = server_with_pid_file(tmp_path, 4242)
    assert server.postmaster_status() == (4242, "ready")


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert not process_alive(child.pid)  # dead, though not yet reaped
        assert process_alive(os.getpid())
    finally:
        child.wait()


def test_why_a_start_failed_is_the_last_line_logged_since_it_began(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", port=5999)
    server.data_dir.mkdir(parents=True)
    server.log_file.write_text("FATAL:  terminating connection due to unexpected postmaster exit\n")
    before = server.log_size()
    assert server.last_log_line(since=before) is None
    with server.log_file.open("a") as log:
        log.write('postgres: could not access the server configuration file "x": No such file\n')
    assert server.last_log_line(since=before) == (
        'postgres: could not access the server configuration file "x": No such file'
    )

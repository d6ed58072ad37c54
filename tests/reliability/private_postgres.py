"""A throwaway PostgreSQL cluster of the test's own, so it can be restarted for real.

The shared test server (``SAHUT_TEST_DATABASE_URL``) is never restarted: other tests and CI
jobs use it. This cluster lives in a temporary directory, listens on a free port on
127.0.0.1 with trust authentication, runs with ``fsync=off`` and is always removed.

initdb refuses to run as root: when the tests run as root the binaries run as the
``postgres`` OS user (``runuser``), in a data directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binaries() -> Path | None:
    """The bin directory of the newest PostgreSQL installed (None: not installed)."""
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        if version.isdigit() and Path(initdb).with_name("pg_ctl").exists():
            candidates.append((int(version), Path(initdb).parent))
    if not candidates:
        on_path = shutil.which("initdb")
        if on_path and shutil.which("pg_ctl"):
            return Path(on_path).parent
        return None
    return max(candidates)[1]


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be started here (None: it can)."""
    if find_binaries() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


class PrivateCluster:
    """initdb + pg_ctl start/stop/restart of one cluster; ``url`` is its postgres database."""

    def __init__(self) -> None:
        binaries = find_binaries()
        assert binaries is not None, unavailable_reason()
        self.bin = binaries
        self.port = _free_port()
        # Not under pytest's tmp_path: its parents are private to the current user, and the
        # postgres user must be able to reach the directory.
        self.root = Path(tempfile.mkdtemp(prefix="sahut-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        os.chmod(self.root, 0o755)

    def _run(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                check=False, cwd=self.root, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}\n{self.server_log()}")
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -h 127.0.0.1 -k {self.data} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=100 -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def wait_ready(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def server_log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        return ""

    def destroy(self) -> None:
        """Stop the server (immediately) if it runs, and remove every file."""
        try:
            if self.running():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

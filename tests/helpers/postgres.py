"""A PostgreSQL server for tests: the machine's own on 127.0.0.1:5432, started if it is down,
or else a throwaway cluster made from the installed binaries."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "postgres"


def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _reachable(port):
            return True
        time.sleep(0.3)
    return False


def _start_system_cluster() -> bool:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        return False
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=False,
        capture_output=True,
    )
    return _wait(5432)


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *argv] if os.geteuid() == 0 else argv


class ThrowawayPostgres:
    """A cluster of our own in a temporary folder, made with initdb; restartable."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise RuntimeError("no PostgreSQL binaries found (apt-get install postgresql)")
        self._bin = Path(bins[-1])
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        os.chmod(self.root, 0o777)
        self.data = self.root / "data"
        initdb = [str(self._bin / "initdb"), "-D", str(self.data), "-U", USER]
        subprocess.run(
            _as_postgres([*initdb, "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._pg_ctl("start")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -h 127.0.0.1"
        argv = [str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log")]
        subprocess.run(
            _as_postgres([*argv, "-o", options, "-w", *extra, action]),
            check=True,
            capture_output=True,
        )
        if action != "stop" and not _wait(self.port):
            raise RuntimeError(f"throwaway PostgreSQL did not start; see {self.root / 'log'}")

    def url(self, database: str, driver: str = "asyncpg") -> str:
        """A SQLAlchemy URL for ``database`` on this cluster."""
        return f"postgresql+{driver}://{USER}@127.0.0.1:{self.port}/{database}"

    def restart(self, down_for: float = 0.0) -> None:
        """Stop as after a crash (no clean shutdown) and start again ``down_for`` seconds later."""
        self._pg_ctl("stop", "-m", "immediate")
        time.sleep(down_for)
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop the cluster."""
        subprocess.run(
            _as_postgres([str(self._bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "fast"]),
            check=False,
            capture_output=True,
        )


class PostgresServer:
    """The server tests use; ``stop`` only stops a throwaway cluster this object started."""

    def __init__(self) -> None:
        self._own: ThrowawayPostgres | None = None
        if _reachable(5432) or _start_system_cluster():
            self.port = 5432
        else:
            self._own = ThrowawayPostgres()
            self.port = self._own.port

    def url(self, database: str, driver: str = "asyncpg") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+{driver}://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the throwaway cluster, if there is one."""
        if self._own is not None:
            self._own.stop()

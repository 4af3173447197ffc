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


def _throwaway_cluster() -> tuple[int, Path]:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise RuntimeError("no PostgreSQL binaries found (apt-get install postgresql)")
    bin_dir = Path(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
    os.chmod(root, 0o777)
    data = root / "data"
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -h 127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    if not _wait(port):
        raise RuntimeError(f"throwaway PostgreSQL did not start; see {root / 'log'}")
    return port, data


class PostgresServer:
    """The server tests use; ``stop`` only stops a throwaway cluster this object started."""

    def __init__(self) -> None:
        self._data: Path | None = None
        if _reachable(5432) or _start_system_cluster():
            self.port = 5432
        else:
            self.port, self._data = _throwaway_cluster()

    def url(self, database: str, driver: str = "asyncpg") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+{driver}://{USER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the throwaway cluster, if there is one."""
        if self._data is not None:
            bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
            subprocess.run(
                _as_postgres([f"{bins[-1]}/pg_ctl", "-D", str(self._data), "stop", "-m", "fast"]),
                check=False,
                capture_output=True,
            )

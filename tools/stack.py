"""Run Rasa, the action server and the gateway together: ``python -m tools.stack``.

Used by ``make run`` (ports from .env) and by the end-to-end tests (free ports, their own
database). Prints the URLs and stops all three on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from tools.paths import MODEL, PROJECT_BIN, RASA_BIN, ROOT, VAR
from tools.train import rasa_env


@dataclass(frozen=True)
class Service:
    """One process of the stack."""

    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str


@dataclass
class Ports:
    """Where each process listens (on 127.0.0.1)."""

    gateway: int = 8080
    rasa: int = 5005
    actions: int = 5055


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def services(
    ports: Ports, database_url: str, extra_env: Mapping[str, str] = {}, rasa_url: str = ""
) -> list[Service]:
    """The three processes, in start order (the gateway migrates the database first)."""
    base = {**os.environ, **extra_env, "DATABASE_URL": database_url}
    gateway_env = {
        **base,
        "GATEWAY_PORT": str(ports.gateway),
        "RASA_URL": rasa_url or f"http://127.0.0.1:{ports.rasa}",
    }
    action_env = {**base, "PYTHONPATH": str(ROOT)}
    rasa = {
        **rasa_env(),
        **extra_env,
        "ACTION_SERVER_URL": f"http://127.0.0.1:{ports.actions}/webhook",
        # Rasa logs every member message at DEBUG and has no log filter of ours: keep it at INFO
        # whatever LOG_LEVEL the gateway runs at (docs/privacy.md).
        "LOG_LEVEL": "INFO",
    }
    return [
        Service(
            "gateway",
            [str(PROJECT_BIN / "python"), "-m", "bot"],
            gateway_env,
            f"http://127.0.0.1:{ports.gateway}/healthz",
        ),
        Service(
            "actions",
            [
                str(PROJECT_BIN / "python"),
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                str(ports.actions),
            ],
            action_env,
            f"http://127.0.0.1:{ports.actions}/health",
        ),
        Service(
            "rasa",
            [
                str(RASA_BIN / "rasa"),
                "run",
                "--enable-api",
                "--model",
                str(MODEL),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
                "--interface",
                "127.0.0.1",
                "--port",
                str(ports.rasa),
            ],
            rasa,
            f"http://127.0.0.1:{ports.rasa}/status",
        ),
    ]


def healthy(url: str) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Running:
    """Started processes, stopped in reverse order."""

    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, service: Service, timeout: float = 180.0) -> None:
        """Start ``service`` and wait until it is healthy."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{service.name}.log").open("ab")
        proc = subprocess.Popen(
            service.argv,
            cwd=ROOT,
            env=service.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[service.name] = proc
        deadline = time.monotonic() + timeout
        while not healthy(service.health_url):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {proc.returncode}; "
                    f"see {self.log_dir / (service.name + '.log')}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not healthy after {timeout:.0f} s")
            time.sleep(0.3)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Stop one process (SIGTERM, then SIGKILL after ``timeout``)."""
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        """Stop everything still running, last started first."""
        for name in reversed(list(self.procs)):
            self.stop(name)


@contextlib.contextmanager
def run_stack(
    ports: Ports,
    database_url: str,
    log_dir: Path,
    extra_env: Mapping[str, str] = {},
    rasa_url: str = "",
) -> Iterator[Running]:
    """Start the whole stack; stop it on exit.

    ``rasa_url`` overrides where the gateway finds Rasa (the tests put a proxy in between).
    """
    running = Running(log_dir)
    try:
        for service in services(ports, database_url, extra_env, rasa_url):
            running.start(service)
        yield running
    finally:
        running.stop_all()


def main() -> None:
    """Run until Ctrl-C with the settings from .env."""
    env = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
    merged = {**env, **os.environ}
    ports = Ports(
        int(merged.get("GATEWAY_PORT", 8080)),
        int(merged.get("RASA_PORT", 5005)),
        int(merged.get("ACTION_SERVER_PORT", 5055)),
    )
    database_url = merged.get("DATABASE_URL") or "sqlite+aiosqlite:///var/bot.db"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log_dir = VAR / "log"
    print(f"starting gateway, action server and Rasa (logs in {log_dir.relative_to(ROOT)}/) ...")
    with run_stack(ports, database_url, log_dir, env):
        print(f"\n  Chat (sandbox):  http://127.0.0.1:{ports.gateway}/chat")
        print(f"  Staff console:   http://127.0.0.1:{ports.gateway}/console")
        print(f"  Gateway health:  http://127.0.0.1:{ports.gateway}/healthz")
        print(f"  Rasa:            http://127.0.0.1:{ports.rasa}")
        print(f"  Action server:   http://127.0.0.1:{ports.actions}")
        print(f"  Database:        {database_url}\n\nCtrl-C stops everything.")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
    print("stopped.")


if __name__ == "__main__":
    main()

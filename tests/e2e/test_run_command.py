"""`make run`'s runner: starts the three processes, prints the URLs, stops all on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers.databases import sqlite_url
from tools.paths import MODEL, ROOT
from tools.stack import free_port

pytestmark = pytest.mark.stack


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_runner_prints_urls_serves_the_chat_and_stops_everything_on_ctrl_c(tmp_path):
    assert MODEL.exists(), "no trained model: run `make test` (it trains first)"
    ports = {
        "GATEWAY_PORT": free_port(),
        "RASA_PORT": free_port(),
        "ACTION_SERVER_PORT": free_port(),
    }
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "DATABASE_URL": sqlite_url(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 300
        while not any("Ctrl-C" in line for line in output):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(output)
            output.append(proc.stdout.readline())
        for page in ("chat", "console"):
            url = f"http://127.0.0.1:{ports['GATEWAY_PORT']}/{page}"
            assert any(url in line for line in output)
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "stopped." in rest
    assert [p for p in ports.values() if listening(p)] == []

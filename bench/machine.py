"""Facts about the machine and its processes, from /proc."""

from __future__ import annotations

import datetime as dt
import os
import platform
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = PROC.joinpath("loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def machine_facts() -> dict[str, Any]:
    """Cores, CPU model, memory, kernel, Python and the time, for the report."""
    model = ""
    for line in PROC.joinpath("cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = _status_kb(PROC.joinpath("meminfo").read_text(), "MemTotal")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
    }


def _status_kb(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    return PROC.joinpath(str(pid), "stat").read_text().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """``pid`` and its living descendants (Sanic's worker processes, for instance)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_mb(pid: int) -> dict[str, float]:
    """``rss_mb`` (VmRSS) and ``peak_mb`` (VmHWM) of a process and its descendants, summed.

    ``processes`` counts them; summed RSS counts memory shared between them more than once.
    """
    rss = peak = count = 0
    for member in tree(pid):
        try:
            text = PROC.joinpath(str(member), "status").read_text()
        except OSError:
            continue
        rss += _status_kb(text, "VmRSS")
        peak += _status_kb(text, "VmHWM")
        count += 1
    return {"rss_mb": round(rss / 1024, 1), "peak_mb": round(peak / 1024, 1), "processes": count}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far by a process and its living descendants."""
    total = 0
    for member in tree(pid):
        try:
            fields = _stat(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


class Sampler:
    """Samples the load average and each process's RSS in a thread while a load runs.

    Use as a context manager; ``load`` and ``rss_max_mb`` hold what was seen.
    """

    def __init__(self, pids: Mapping[str, int], every: float = 0.25) -> None:
        self._pids = dict(pids)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.load: list[float] = []
        self.rss_max_mb: dict[str, float] = dict.fromkeys(self._pids, 0.0)

    def _sample(self) -> None:
        self.load.append(load_average()[0])
        for name, pid in self._pids.items():
            self.rss_max_mb[name] = max(self.rss_max_mb[name], memory_mb(pid)["rss_mb"])

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self._every):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def load_range(self) -> list[float]:
        """Lowest and highest 1-minute load average seen."""
        return [min(self.load), max(self.load)] if self.load else []


def memory_summary(
    at_rest: dict[str, dict[str, float]], sampler: Sampler, pids: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Each process's memory at rest, its largest RSS under load and its peak (VmHWM)."""
    return {
        name: {
            "at_rest": at_rest[name],
            "under_load_rss_max_mb": sampler.rss_max_mb[name],
            "peak_mb": memory_mb(pid)["peak_mb"],
        }
        for name, pid in pids.items()
    }

"""Each benchmark runs with tiny parameters and reports its figures (never judged on speed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.paths import MODEL, ROOT

pytestmark = pytest.mark.stack


def bench(name: str, db: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    argv = [sys.executable, "-m", "bench", name, "--quick", "--db", db, "--out", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == str(out)
    result = json.loads(out.read_text())
    assert result["benchmark"] == name
    assert result["command"] == f"make bench ARGS='{name} --quick --db {db} --out {out}'"
    machine = result["machine"]
    assert machine["cores"] >= 1 and machine["date"]
    assert len(machine["load_average_at_start"]) == len(machine["load_average_at_end"]) == 3
    assert list(result["backends"]) == db.split(",")
    return result


def figure(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0


def latency_figures(summary: dict[str, Any]) -> bool:
    return summary["count"] > 0 and all(
        figure(summary[key]) for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")
    )


def memory_figures(process: dict[str, Any]) -> bool:
    return all(figure(value) and value > 0 for value in process.values())


def test_ingest(tmp_path: Path):
    result = bench("ingest", "sqlite,postgresql", tmp_path)
    for backend in result["backends"].values():
        rates = backend["max_rate"]
        assert set(rates["median_rate"]) == {"bare", "gateway"}
        assert all(figure(rate) and rate > 0 for rate in rates["median_rate"].values())
        assert figure(rates["ratio"])
        latency = backend["latency"]
        assert figure(latency["rate"]) and latency["rate"] > 0
        for side in ("bare", "gateway"):
            assert latency_figures(latency["from_schedule"][side])
            assert latency_figures(latency["from_send"][side])
        durability = backend["durability"]
        assert durability["stored"] == durability["acknowledged_by_gateway"] > 0
        for process in backend["memory"].values():
            assert process["at_rest"]["rss_mb"] > 0 and process["peak_mb"] > 0
        assert set(backend["goals"].values()) <= {True, False}


def test_end_to_end(tmp_path: Path):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    result = bench("e2e", "sqlite", tmp_path)
    backend = result["backends"]["sqlite"]
    sequential = backend["sequential"]
    assert latency_figures(sequential["latency"]["gateway"])
    assert latency_figures(sequential["latency"]["rasa"])
    assert figure(sequential["p50_ratio"])
    assert set(sequential["gateway_stages_p50_ms"]) == {"to_typing_on", "rasa_turn", "to_send_api"}
    rates = backend["throughput"]["median_turns_per_second"]
    assert figure(rates["gateway"]) and figure(rates["rasa"]) and rates["rasa"] > 0
    assert set(backend["memory"]) == {"gateway", "actions", "rasa"}
    assert set(backend["goals"].values()) <= {True, False}


def test_burst(tmp_path: Path):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    backend = bench("burst", "sqlite", tmp_path)["backends"]["sqlite"]
    assert figure(backend["sustainable_turns_per_second"])
    assert latency_figures(backend["ack_latency"])
    assert figure(backend["drain_seconds_after_burst"])
    checks = backend["checks"]
    posted = checks["messages_posted"]
    # nothing lost, nothing twice: correctness, not speed
    assert backend["drained"]
    assert posted == backend["messages"] == checks["messages_stored"] > 0
    assert checks["dispatch_jobs"] == {"done": posted}
    assert checks["messages_with_exactly_one_reply_at_fake"] == posted
    assert checks["messages_with_exactly_one_sent_reply_in_database"] == posted
    assert checks["send_api_calls"] == checks["replies_sent_in_database"] == posted
    assert checks["replies_in_order_per_conversation"]


def test_memory(tmp_path: Path):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    backend = bench("memory", "sqlite", tmp_path)["backends"]["sqlite"]
    assert set(backend["processes"]) == {"gateway", "actions", "rasa", "bare"}
    assert all(memory_figures(process) for process in backend["processes"].values())


def test_profile(tmp_path: Path):
    result = bench("profile", "sqlite,postgresql", tmp_path)
    for backend in result["backends"].values():
        stages = backend["stages_median"]
        assert set(stages) == {
            "webhook_checks",
            "store_delivery",
            "expand_delivery",
            "dispatch_turn",
            "empty_claim",
        }
        for stage in stages.values():
            assert all(figure(value) for value in stage.values())
        assert stages["store_delivery"]["statements"] > 0
        assert stages["expand_delivery"]["statements"] > 0
        assert backend["replies_sent"] > 0
        assert backend["event_loop_thread_by_package_pct"]
        assert figure(backend["claim_with_backlog"]["claim_ms"])
    assert figure(result["backends"]["postgresql"]["claim_with_backlog"]["claim_ms_after_analyze"])

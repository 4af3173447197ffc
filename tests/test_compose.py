"""docker-compose.yml is valid and runs the same processes as `make run`.

No Docker engine runs here, so the file is checked with Debian's ``docker-compose config`` and
against the commands in tools/stack.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tools.stack import Ports, services

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def dockerfile_cmd(path: Path, stage: str | None = None) -> list[str]:
    """The CMD of a Dockerfile (of one stage of it)."""
    current, cmd = None, None
    lines = path.read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip() if " AS " in line else None
        if line.startswith("CMD ") and (stage is None or current == stage):
            cmd = yaml.safe_load(line[4:])
    assert cmd, f"no CMD in {path} ({stage})"
    return cmd


def test_docker_compose_config_accepts_the_file(tmp_path: Path):
    # a deployment directory as the README describes it: the repository and a .env made from
    # .env.example (the gateway reads its pages' secrets from it)
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs it (tools/setup.sh --test)"
    deploy = tmp_path / "deploy"
    shutil.copytree(ROOT, deploy, ignore=shutil.ignore_patterns(".venv*", "var", "models", ".git"))
    shutil.copy(ROOT / ".env.example", deploy / ".env")
    result = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config", "-q"],
        cwd=deploy,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_service_has_an_image_build_and_a_health_check():
    spec = compose()["services"]
    assert set(spec) == {"postgres", "rasa", "actions", "gateway"}
    for name, service in spec.items():
        assert "healthcheck" in service, name
        assert "image" in service or "build" in service, name
    assert "pgdata" in compose()["volumes"]


def test_each_project_service_builds_its_own_image():
    spec = compose()["services"]
    builds = {
        (s["build"]["dockerfile"], s["build"].get("target"))
        for n, s in spec.items()
        if n != "postgres"
    }
    assert len(builds) == 3
    for dockerfile, _ in builds:
        assert (ROOT / dockerfile).exists()


def test_images_run_the_same_commands_as_make_run():
    local = {s.name: s.argv for s in services(Ports(), "sqlite+aiosqlite:///x.db")}
    spec = compose()["services"]
    gateway = dockerfile_cmd(ROOT / spec["gateway"]["build"]["dockerfile"], "gateway")
    actions = dockerfile_cmd(ROOT / spec["actions"]["build"]["dockerfile"], "actions")
    rasa = dockerfile_cmd(ROOT / spec["rasa"]["build"]["dockerfile"])
    assert gateway[1:] == local["gateway"][1:]  # python -m bot
    assert actions[1:5] == local["actions"][1:5]  # python -m rasa_sdk --actions actions
    assert rasa[:2] == ["rasa", "run"] and "--enable-api" in rasa
    assert rasa[rasa.index("--model") + 1] == "models/current.tar.gz"


def test_compose_environment_names_are_settings_the_gateway_reads():
    example = (ROOT / ".env.example").read_text()
    gateway_env = compose()["services"]["gateway"]["environment"]
    for name in gateway_env:
        assert f"\n{name}=" in example or example.startswith(f"{name}="), name

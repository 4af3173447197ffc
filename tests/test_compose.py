"""docker-compose.yml is valid, runs the same processes as `make run`, and is wired for several
replicas: gateways behind the load balancer, each gateway told about every Rasa replica, every
Rasa on the shared tracker store and lock store.

No Docker engine runs here, so the file is checked with Debian's ``docker-compose config`` and
against the commands in tools/stack.py and the files it mounts.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from bot.settings import Settings
from tools.stack import Ports, services

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENDPOINTS = ROOT / "docker" / "endpoints.compose.yml"
NGINX = ROOT / "docker" / "nginx.conf"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def replicas(kind: str) -> dict[str, dict]:
    """The services named ``<kind>-<n>``."""
    return {n: s for n, s in compose()["services"].items() if re.fullmatch(rf"{kind}-\d+", n)}


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


def nginx_block(config: str, opening: str) -> str:
    """The body of the block that starts with ``opening {`` (no nested blocks inside)."""
    found = re.search(re.escape(opening) + r"\s*\{([^{}]*)\}", config)
    assert found, f"no block {opening!r} in {NGINX}"
    return found.group(1)


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


def test_every_service_has_an_image_a_health_check_and_a_restart_policy():
    spec = compose()["services"]
    assert set(spec) == {
        "postgres",
        "redis",
        "proxy",
        "gateway-1",
        "gateway-2",
        "actions",
        "rasa-1",
        "rasa-2",
    }
    for name, service in spec.items():
        assert "healthcheck" in service, name
        assert service.get("restart") in {"unless-stopped", "always"}, name
        assert "image" in service or "build" in service, name
    assert "pgdata" in compose()["volumes"]


def test_each_project_image_is_built_once_and_shared_by_its_replicas():
    spec = compose()["services"]
    built = {n: s for n, s in spec.items() if "build" in s}
    assert set(built) == {"gateway-1", "gateway-2", "actions", "rasa-1", "rasa-2"}
    images: dict[tuple[str, str | None], set[str]] = {}
    for service in built.values():
        build = (service["build"]["dockerfile"], service["build"].get("target"))
        images.setdefault(build, set()).add(service["image"])
    assert len(images) == 3
    assert all(len(names) == 1 for names in images.values()), images
    for dockerfile, _ in images:
        assert (ROOT / dockerfile).exists()


def test_there_are_several_gateways_and_rasa_servers_alike_but_for_their_names():
    gateways, rasas = replicas("gateway"), replicas("rasa")
    assert len(gateways) >= 2 and len(rasas) >= 2
    for group in (gateways, rasas):
        first, *others = group.values()
        for other in others:
            # gateway-2 waits for gateway-1, which migrates the database
            assert {k: v for k, v in other.items() if k != "depends_on"} == {
                k: v for k, v in first.items() if k != "depends_on"
            }
    for name, gateway in gateways.items():
        assert "ports" not in gateway, f"{name} is reached through the proxy only"


def test_images_run_the_same_commands_as_make_run():
    local = {s.name: s.argv for s in services(Ports(), "sqlite+aiosqlite:///x.db")}
    spec = compose()["services"]
    gateway = dockerfile_cmd(ROOT / spec["gateway-1"]["build"]["dockerfile"], "gateway")
    actions = dockerfile_cmd(ROOT / spec["actions"]["build"]["dockerfile"], "actions")
    rasa = dockerfile_cmd(ROOT / spec["rasa-1"]["build"]["dockerfile"])
    assert gateway[1:] == local["gateway"][1:]  # python -m bot
    assert actions[1:5] == local["actions"][1:5]  # python -m rasa_sdk --actions actions
    assert rasa[:2] == ["rasa", "run"] and "--enable-api" in rasa
    assert rasa[rasa.index("--model") + 1] == "models/current.tar.gz"
    assert rasa[rasa.index("--endpoints") + 1] == "docker/endpoints.compose.yml"


def test_every_rasa_keeps_trackers_in_postgresql_and_locks_in_redis():
    endpoints = yaml.safe_load(ENDPOINTS.read_text())
    assert endpoints["tracker_store"]["type"] == "SQL"
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "redis"
    needed = set(re.findall(r"\$\{(\w+)\}", ENDPOINTS.read_text()))
    spec = compose()["services"]
    for name, rasa in replicas("rasa").items():
        env = rasa["environment"]
        assert needed <= set(env), f"{name} lacks {needed - set(env)}"
        assert env["POSTGRES_HOST"] == "postgres" and env["REDIS_HOST"] == "redis", name
        assert env["ACTION_SERVER_URL"] == "http://actions:5055/webhook", name
        assert set(rasa["depends_on"]) == {"actions", "redis"}, name
    assert spec["redis"]["image"].startswith("redis:")
    assert "rasa_tracker" in (ROOT / "docker" / "postgres-init.sql").read_text()
    assert {r["environment"]["RASA_TRACKER_DB"] for r in replicas("rasa").values()} == {
        "rasa_tracker"
    }


def test_every_gateway_knows_every_rasa_replica():
    rasa_urls = {f"http://{name}:5005" for name in replicas("rasa")}
    for name, gateway in replicas("gateway").items():
        settings = Settings.from_env({"RASA_URL": gateway["environment"]["RASA_URL"]})
        assert set(settings.rasa_urls) == rasa_urls, name
        assert len(settings.rasa_urls) == len(rasa_urls), name


def test_the_proxy_balances_every_gateway_and_is_the_only_way_in():
    spec = compose()["services"]
    proxy = spec["proxy"]
    assert "./docker/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["ports"] == ["8080:8080"]
    assert [n for n, s in spec.items() if "ports" in s] == ["proxy"]
    assert set(proxy["depends_on"]) == set(replicas("gateway"))
    config = NGINX.read_text()
    upstream = nginx_block(config, "upstream gateways")
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream, re.MULTILINE)
    assert sorted(servers) == sorted((name, "8080") for name in replicas("gateway"))
    assert "listen 8080;" in config
    assert config.count("proxy_pass http://gateways;") >= 3


def test_the_proxy_streams_live_updates_and_forwards_the_client_address():
    config = NGINX.read_text()
    for location in ("location = /console/api/events", "location /api/sandbox/"):
        block = nginx_block(config, location)
        assert "proxy_buffering off;" in block, location
    assert "proxy_read_timeout" in nginx_block(config, "location = /console/api/events")
    assert re.search(r"proxy_set_header X-Forwarded-For \$\w+;", config)


def test_the_gateways_believe_x_forwarded_for_only_from_the_proxy():
    spec = compose()["services"]
    address = ipaddress.ip_address(spec["proxy"]["networks"]["default"]["ipv4_address"])
    [subnet] = [c["subnet"] for c in compose()["networks"]["default"]["ipam"]["config"]]
    assert address in ipaddress.ip_network(subnet)
    for name, gateway in replicas("gateway").items():
        trusted = Settings.from_env({"TRUSTED_PROXIES": gateway["environment"]["TRUSTED_PROXIES"]})
        assert trusted.trusted_proxies == (str(address),), name


def test_compose_environment_names_are_settings_the_gateway_reads():
    example = (ROOT / ".env.example").read_text()
    for gateway in replicas("gateway").values():
        for name in gateway["environment"]:
            assert f"\n{name}=" in example or example.startswith(f"{name}="), name

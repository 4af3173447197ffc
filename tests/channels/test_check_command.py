"""``make check-channels`` against the fake platforms: it names what is wrong, per page and OA."""

from __future__ import annotations

import subprocess
import sys

from cryptography.fernet import Fernet

from bot.check_channels import check
from bot.settings import Settings
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.zalo_api import FakeZaloApi, ZaloOa
from tools.paths import ROOT

PAGE, APP = "1234567890", "1111111111"
OA = "3662729599332560487"


def settings(graph: FakeGraphApi, zalo: FakeZaloApi, database_url: str, **changes: str):
    env = {
        "DATABASE_URL": database_url,
        "FACEBOOK_VERIFY_TOKEN": "vt",
        "FACEBOOK_PAGES": PAGE,
        f"FACEBOOK_PAGE_{PAGE}_APP_SECRET": "secret",
        f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "page-token",
        f"FACEBOOK_PAGE_{PAGE}_APP_ID": APP,
        f"FACEBOOK_PAGE_{PAGE}_HUMAN_AGENT": "true",
        "FACEBOOK_GRAPH_URL": graph.base_url,
        "ZALO_OAS": OA,
        f"ZALO_OA_{OA}_APP_ID": "2553928453557884079",
        f"ZALO_OA_{OA}_APP_SECRET": "app-secret",
        f"ZALO_OA_{OA}_OA_SECRET": "oa-secret",
        f"ZALO_OA_{OA}_REFRESH_TOKEN": "refresh-1",
        "ZALO_OPENAPI_URL": zalo.url,
        "ZALO_OAUTH_URL": zalo.url,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    return Settings.from_env({**env, **changes})


def fakes() -> tuple[FakeGraphApi, FakeZaloApi]:
    graph = FakeGraphApi({PAGE: "page-token"}, page_names={PAGE: "Công đoàn KCN"})
    zalo = FakeZaloApi({OA: ZaloOa("2553928453557884079", "app-secret", "x", "refresh-1")})
    return graph, zalo


async def test_a_correct_setup_passes(database_url):
    graph, zalo = fakes()
    graph.subscribe(PAGE, APP, ["messages", "messaging_postbacks", "message_echoes"])
    async with graph, zalo:
        findings = await check(settings(graph, zalo, database_url))
    assert [f.ok for f in findings] == [True, True, True]
    assert "Công đoàn KCN" in findings[0].text


async def test_problems_are_named(database_url):
    graph, zalo = fakes()
    graph.subscribe(PAGE, APP, ["messages"])
    zalo.oas[OA].refresh_token = "already-used"
    async with graph, zalo:
        findings = await check(settings(graph, zalo, database_url))
        wrong_token = await check(
            settings(graph, zalo, database_url, **{f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "old"})
        )
    problems = [f.text for f in findings if not f.ok]
    assert len(problems) == 2
    assert problems[0] == "webhook fields missing: messaging_postbacks, message_echoes"
    assert problems[1].startswith("no access token: Zalo refused the token refresh")
    assert not wrong_token[0].ok and "page access token rejected" in wrong_token[0].text


def test_the_command_exits_1_and_says_why_without_configuration(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot.check_channels"],
        cwd=tmp_path,  # no .env here
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no FACEBOOK_PAGES or ZALO_OAS configured" in result.stdout

"""Running ``python -m bot.member_command`` as ``make member`` / ``make retention`` do."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tools.paths import PROJECT_BIN, ROOT


async def member_command(
    args: list[str], workdir: Path, env: dict[str, str]
) -> tuple[int, str, str]:
    """Exit status, standard output and standard error (from ``workdir``: no stray .env)."""
    process = await asyncio.create_subprocess_exec(
        str(PROJECT_BIN / "python"),
        "-m",
        "bot.member_command",
        *args,
        cwd=workdir,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()

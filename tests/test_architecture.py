"""Structural rules: state is written only in bot/ops (and the schema code in bot/db)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = ("bot/ops/", "bot/db/")
WRITE_METHODS = {"add", "add_all", "delete", "commit", "merge", "flush"}
WRITE_STATEMENTS = {"insert", "update", "delete"}


def writes(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if (
                node.func.attr in WRITE_METHODS
                and isinstance(target, ast.Name)
                and (target.id == "session")
            ):
                found.append(f"session.{node.func.attr} (line {node.lineno})")
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy",):
            for alias in node.names:
                if alias.name in WRITE_STATEMENTS:
                    found.append(f"imports sqlalchemy.{alias.name} (line {node.lineno})")
    return found


def test_only_bot_ops_writes_state():
    offenders = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED):
            continue
        found = writes(ast.parse(path.read_text()))
        if found:
            offenders[relative] = found
    assert offenders == {}


def test_the_check_catches_a_write():
    assert writes(ast.parse("async def f(session):\n    session.add(x)\n"))
    assert writes(ast.parse("from sqlalchemy import update\n"))
    assert not writes(ast.parse("d = {}\nd.update(a=1)\n"))

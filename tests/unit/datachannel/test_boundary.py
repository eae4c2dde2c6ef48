"""The sans-I/O boundary of ecs_exec/datachannel/ (ARCHITECTURE.md), enforced mechanically."""

from __future__ import annotations

import ast
from pathlib import Path

import ecs_exec.datachannel

BANNED = {
    "asyncio",
    "socket",
    "threading",
    "websockets",
    "boto3",
    "botocore",
    "time",
    "sys",
    "select",
    "subprocess",
}
SSM = Path(ecs_exec.datachannel.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_ssm_modules_do_no_io() -> None:
    files = sorted(SSM.glob("*.py"))
    assert len(files) >= 7
    offenders = {f.name: imported_modules(f) & BANNED for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_module_starts_with_future_import() -> None:
    for path in SSM.glob("*.py"):
        tree = ast.parse(path.read_text())
        first = [n for n in tree.body if not isinstance(n, ast.Expr)][0]
        assert isinstance(first, ast.ImportFrom)
        assert first.module == "__future__", path.name

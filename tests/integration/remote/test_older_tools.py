"""The one-off script with tools that lack what it tries first: a ``dd`` without
``iflag=fullblock`` and a ``base64`` without ``-w`` (older BusyBox builds, other systems).
The script finds out on first use, not with probes up front, and must stay exact."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.integration.remote.harness import run_oneoff

# Each shim refuses the option as an old tool would (a message and status 1, before reading
# anything) and notes that it did, then runs the real tool for everything else.
SHIM = """#!/bin/sh
for a in "$@"; do
case $a in {refused}) echo "{name}: unknown option $a" >&2; echo {name} >>"{log}"; exit 1;; esac
done
exec {real} "$@"
"""


@pytest.fixture
def older_tools(tmp_path: Path) -> tuple[str, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "refused"
    shell = shutil.which("dash")
    if shell is None:
        pytest.skip("dash is not installed")
    (bin_dir / "sh").symlink_to(shell)
    for name, refused in (("dd", "iflag=*"), ("base64", "-w")):
        real = shutil.which(name)
        assert real is not None
        shim = bin_dir / name
        shim.write_text(SHIM.format(name=name, refused=refused, real=real, log=log))
        shim.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}", log


def test_exact_with_a_dd_without_fullblock_and_a_base64_without_w(
    older_tools: tuple[str, Path],
) -> None:
    path, log = older_tools
    data = os.urandom(20_000)  # read back one byte per dd read: kept small
    script = "cat >/dev/null; head -c 3000 /dev/zero | tr '\\0' x; echo; echo err >&2; exit 4"
    result = run_oneoff(
        ["sh", "-c", f"sha256sum; {script}"],
        stdin=data,
        raw_output=False,
        compress=False,  # 3 kB of base64 from base64 itself: lines of 76 and breaks
        path=path,
    )
    assert result.code == 4
    digest = hashlib.sha256(data).hexdigest()
    assert result.stdout == f"{digest}  -\n".encode() + b"x" * 3000 + b"\n"
    assert result.stderr == b"err\n"
    refused = log.read_text().split()
    assert "dd" in refused  # the stdin reader fell back to bs=1...
    assert "base64" in refused  # ...and the encoders to base64 with its line breaks
    assert result.leftover_processes is False

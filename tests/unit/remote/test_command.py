"""Command builders: the agent's split yields exactly the intended argv."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ecs_exec.remote import (
    build_interactive_command,
    build_oneoff_command,
    new_nonce,
    setup_error,
    shlexgo,
)
from ecs_exec.remote.command import (
    FRAME_CHUNKS,
    INTERACTIVE_SCRIPT,
    ONEOFF_SCRIPT,
    OUTPUT_CHUNK,
    REQUIRED_TOOLS,
)

NONCE = "abcdef0123456789"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\x00")),
        min_size=1,
    )
)
def test_oneoff_argv_survives_agent_split(argv: list[str]) -> None:
    command = build_oneoff_command(argv, nonce=NONCE, stdin_mode="raw", compress=True)
    assert shlexgo.split(command) == ["sh", "-c", ONEOFF_SCRIPT, "ecs-exec", NONCE, "r", "z", *argv]


@pytest.mark.parametrize(("mode", "flag"), [("raw", "r"), ("base64", "b"), ("none", "n")])
def test_oneoff_flags(mode: str, flag: str) -> None:
    command = build_oneoff_command(["ls"], nonce=NONCE, stdin_mode=mode, compress=False)  # type: ignore[arg-type]
    assert shlexgo.split(command)[4:] == [NONCE, flag, "-", "ls"]


def test_interactive_command() -> None:
    words = shlexgo.split(build_interactive_command(None, nonce=NONCE))
    assert words == ["sh", "-c", INTERACTIVE_SCRIPT, "ecs-exec", NONCE]
    words = shlexgo.split(build_interactive_command(["top", "-b"], nonce=NONCE))
    assert words[4:] == [NONCE, "top", "-b"]


@pytest.mark.parametrize(
    ("argv", "nonce", "error"),
    [
        ([], NONCE, ValueError),
        (["a\x00b"], NONCE, ValueError),
        (["ls"], "short", ValueError),
        (["ls"], "has:colon-in-it", ValueError),
        ("ls -l", NONCE, TypeError),
    ],
)
def test_invalid_input(argv: list[str], nonce: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        build_oneoff_command(argv, nonce=nonce, stdin_mode="none", compress=True)


def test_nonce_is_fresh_and_valid() -> None:
    first, second = new_nonce(), new_nonce()
    assert first != second
    build_oneoff_command(["true"], nonce=first, stdin_mode="none", compress=True)


@pytest.mark.parametrize("tool", REQUIRED_TOOLS)
def test_setup_error_names_tool(tool: str) -> None:
    error = setup_error(tool)
    assert str(error).startswith(f"the container has no {tool!r}, which ecs-exec needs for ")
    assert error.hint


@pytest.mark.parametrize(("tool", "text"), [("tmpdir", "temporary directory"), ("tty", "terminal")])
def test_setup_error_resources(tool: str, text: str) -> None:
    assert text in str(setup_error(tool))


def test_script_frame_bounds_match_the_decoder() -> None:
    """The decoder's frame limit is derived from these; the script spells them out."""
    assert f"bs={OUTPUT_CHUNK} count=1 of=" in ONEOFF_SCRIPT
    assert f"[ $m -le {FRAME_CHUNKS} ] || m={FRAME_CHUNKS}" in ONEOFF_SCRIPT


def test_script_waits_match_the_documented_constants() -> None:
    from ecs_exec.remote.command import CONFIRM_WAIT, INTERRUPT_GRACE, MARKER_CONFIRM_WAIT
    from ecs_exec.session.oneoff import INTERRUPT_WAIT

    assert f"\nsleep {CONFIRM_WAIT} </dev/null" in ONEOFF_SCRIPT
    assert f" min 0 time {MARKER_CONFIRM_WAIT * 10} " in INTERACTIVE_SCRIPT
    assert f"(sleep {INTERRUPT_GRACE}; kill -s TERM 0)" in ONEOFF_SCRIPT
    assert INTERRUPT_WAIT > INTERRUPT_GRACE + 1  # the client waits for the SIGTERM's outcome
    assert "sleep 0.3" not in ONEOFF_SCRIPT + INTERACTIVE_SCRIPT  # no pause stands in for it


@pytest.mark.parametrize(
    ("compress", "raw_output", "flags"),
    [(True, True, "zr"), (True, False, "z"), (False, True, "r"), (False, False, "-")],
)
def test_output_flags(compress: bool, raw_output: bool, flags: str) -> None:
    command = build_oneoff_command(
        ["ls"], nonce=NONCE, stdin_mode="none", compress=compress, raw_output=raw_output
    )
    assert shlexgo.split(command)[4:] == [NONCE, "n", flags, "ls"]


@pytest.mark.parametrize(("transport", "flags"), [("native", "zr"), ("plugin", "z")])
def test_raw_output_only_over_the_native_transport(transport: str, flags: str) -> None:
    # The plugin writes output to a local terminal, which is not 8-bit clean.
    from ecs_exec.session.runner import ExecRequest, _build_command

    request = ExecRequest(argv=("ls",), interactive=False, attach_stdin=True, transport=transport)
    assert shlexgo.split(_build_command(request, NONCE))[4:7] == [
        NONCE,
        "rb"[transport == "plugin"],
        flags,
    ]

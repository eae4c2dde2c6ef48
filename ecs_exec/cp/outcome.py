"""What a copy's outcome means: the script's status and report, and the local digests,
turned into success or one named error (no I/O)."""

from __future__ import annotations

from ecs_exec.cp.local import Digests
from ecs_exec.cp.scripts import Report
from ecs_exec.errors import CopyError, CopyInterruptedError


def check_status(status: int, report: Report, path: str, *, upload: bool) -> None:
    """Turn the script's status and report into success or a named error."""
    if status >= 128 and report.error is None:
        raise CopyInterruptedError(
            f"the copy was interrupted (status {status}); nothing was written"
            + (" in the container" if upload else " here"),
            status=status,
        )
    if report.error is not None:
        raise remote_error(report, path, upload=upload)
    if status != 0 or (upload and not report.done):
        detail = report.tool_lines[0] if report.tool_lines else f"status {status}"
        raise CopyError(f"the copy failed in the container: {detail}", kind="remote")


def remote_error(report: Report, path: str, *, upload: bool) -> CopyError:
    """The named error for the script's ``E`` line."""
    assert report.error is not None
    kind, detail = report.error
    where = detail or path
    tools = " ".join(report.tool_lines)
    if kind == "full" or "No space left" in tools or "Disk quota" in tools:
        return CopyError(f"the container's disk is full (writing {where})", kind="disk-full")
    if "Permission denied" in tools or "Operation not permitted" in tools or kind == "perm":
        return CopyError(f"permission denied in the container: {where}", kind="permission")
    table = {
        "nofile": ("no-such-file", f"no such file or directory in the container: {where}", None),
        "dangling": ("no-such-file", f"{where} in the container is a broken symbolic link", None),
        "nodir": ("no-such-file", f"no such directory in the container: {where}", None),
        "notdir": ("not-a-directory", f"not a directory in the container: {where}", None),
        "isdir": (
            "is-a-directory",
            f"{where} in the container is a directory",
            None if upload else "add -r to copy a directory",
        ),
        "notar": (
            "no-tar",
            "the container has no tar, which copying a directory needs",
            "add tar to the image (busybox has one), or copy the files one by one",
        ),
        "mismatch": (
            "verify-failed",
            f"the checksum of the copy of {path} differs from the source's; nothing was written",
            "a local file changed while it was copied? try again",
        ),
        "short": (
            "verify-failed",
            f"the copy of {path} is incomplete ({detail} bytes); nothing was written",
            None,
        ),
    }
    if kind in table:
        name, message, hint = table[kind]
        return CopyError(message, kind=name, hint=hint)
    first = report.tool_lines[0] if report.tool_lines else kind
    return CopyError(f"the copy failed in the container: {first}", kind="remote")


def verify(report: Report, digests: Digests, quiet: bool) -> str:
    """Compare the container's checker result with ours.

    Raises:
        CopyError: they differ.
    """
    checker = report.checker or "none"
    if checker == "none" or report.value is None:
        return "none"
    key = "wc" if checker == "wc" else checker
    if key != "wc" and key not in digests.hashes:
        return "none"
    if digests.value(key) != report.value:
        raise CopyError(
            f"the copy's {checker} differs from the container's; nothing was written",
            kind="verify-failed",
            hint="the remote file may have changed while it was read; try again",
        )
    return checker

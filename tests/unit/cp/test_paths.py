from __future__ import annotations

import pytest

from ecs_exec.cp.paths import LocalPath, RemotePath, check_pair, parse_path, remote_basename
from ecs_exec.errors import UsageError

TASK = "0b3c9d7e5f1a4b2c8d6e0f9a7b5c3d11"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":/etc/hosts", RemotePath("/etc/hosts")),
        (":rel/x", RemotePath("rel/x")),
        (f"{TASK}:/x", RemotePath("/x", TASK)),
        ("0b3c:/x", RemotePath("/x", "0b3c")),
        (f"{TASK}/app:/x:y", RemotePath("/x:y", TASK, "app")),
        (
            f"arn:aws:ecs:us-east-1:123456789012:task/demo/{TASK}:/x",
            RemotePath("/x", f"arn:aws:ecs:us-east-1:123456789012:task/demo/{TASK}"),
        ),
        (
            f"arn:aws:ecs:us-east-1:123456789012:task/demo/{TASK}/app:/x",
            RemotePath("/x", f"arn:aws:ecs:us-east-1:123456789012:task/demo/{TASK}", "app"),
        ),
        (
            f"arn:aws:ecs:us-east-1:123456789012:task/{TASK}:/x",
            RemotePath("/x", f"arn:aws:ecs:us-east-1:123456789012:task/{TASK}"),
        ),
        ("-", LocalPath("-")),
        ("file", LocalPath("file")),
        ("./0b3c:/x", LocalPath("./0b3c:/x")),
        ("/abs:x", LocalPath("/abs:x")),
        ("notes:today.txt", LocalPath("notes:today.txt")),  # not hex: a local name
    ],
)
def test_parse_path(text, expected):
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "an empty path"),
        (":", "names no file"),
        (f"{TASK}/bad name:/x", "is not a container name"),
        ("arn:aws:ecs:us-east-1:1:service/x:/p", "is not TASK_ARN:PATH"),
    ],
)
def test_bad_paths(text, message):
    with pytest.raises(UsageError, match=message):
        parse_path(text)


def test_pairs():
    check_pair(LocalPath("a"), RemotePath("b"), recursive=True)
    check_pair(RemotePath("b"), LocalPath("-"), recursive=False)
    with pytest.raises(UsageError, match="both paths are local"):
        check_pair(LocalPath("a"), LocalPath("b"), recursive=False)
    with pytest.raises(UsageError, match="both paths are remote"):
        check_pair(RemotePath("a"), RemotePath("b"), recursive=False)
    with pytest.raises(UsageError, match="-r cannot"):
        check_pair(RemotePath("a"), LocalPath("-"), recursive=True)


def test_remote_basename():
    assert remote_basename("/var/log/app.log") == "app.log"
    assert remote_basename("dir/") == "dir"
    assert remote_basename("/") == ""
    assert remote_basename("x") == "x"

"""A tree with every kind of entry cp must carry, and an exact comparison of two trees."""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: Names that break naive scripts: spaces, a newline, non-UTF-8 bytes, a leading dash,
#: glob characters, a dot file.
ODD_NAMES = [
    b"with space",
    b"new\nline",
    b"latin1-\xe9t\xe9",
    b"\xff\xfe",
    b"-leading-dash",
    b"star*and?",
    b".hidden",
]


def make_tree(root: Path, files: int = 200) -> None:
    """``files`` regular files (modes 600..755, fixed mtimes) in nested directories, with
    odd names, symlinks (relative, absolute, dangling) and empty directories."""
    base = os.fsencode(root)
    os.makedirs(base)
    modes = (0o644, 0o600, 0o755, 0o640, 0o700)
    for i in range(files):
        sub = os.path.join(base, b"d%d" % (i % 7), b"e%d" % (i % 3))
        os.makedirs(sub, exist_ok=True)
        name = ODD_NAMES[i] if i < len(ODD_NAMES) else b"f%03d.txt" % i
        path = os.path.join(sub, name)
        with open(path, "wb") as f:
            f.write(os.urandom(i * 37 % 5000))
        os.chmod(path, modes[i % len(modes)])
        os.utime(path, (1_600_000_000 + i, 1_600_000_000 + i))
    os.makedirs(os.path.join(base, b"empty", b"nested-empty"))
    os.symlink(b"d0/e0/with space", os.path.join(base, b"link-rel"))
    os.symlink(b"/etc/hostname", os.path.join(base, b"link-abs"))
    os.symlink(b"no-such-target", os.path.join(base, b"link-dangling"))
    os.symlink(b"d1", os.path.join(base, b"link-dir"))


def snapshot(root: Path, *, times: bool = True) -> dict[bytes, tuple[object, ...]]:
    """Every entry under root (bytes paths): kind, permission bits, content or link
    target, and the mtime of files."""
    base = os.fsencode(root)
    entries: dict[bytes, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, base)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                with open(path, "rb") as f:
                    data = f.read()
                mtime = int(info.st_mtime) if times else None
                entries[rel] = ("file", stat.S_IMODE(info.st_mode), data, mtime)
    return entries

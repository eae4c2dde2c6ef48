"""The public surface of ecs_exec.remote."""

from __future__ import annotations

import ecs_exec.remote


def test_all_names_exist() -> None:
    for name in ecs_exec.remote.__all__:
        assert hasattr(ecs_exec.remote, name), name


def test_all_is_the_public_surface() -> None:
    public = {
        name
        for name, value in vars(ecs_exec.remote).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("ecs_exec.")
    }
    assert public <= set(ecs_exec.remote.__all__)

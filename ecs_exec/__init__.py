"""ecs-exec: shells and one-off commands in Amazon ECS containers through ECS Exec."""

from __future__ import annotations

__version__ = "0.1.0"

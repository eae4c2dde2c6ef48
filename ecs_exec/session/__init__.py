"""A session, end to end: resolve, ExecuteCommand, a transport, and a mode driving it."""

from __future__ import annotations

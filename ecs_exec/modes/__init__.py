"""Session modes: interactive terminal and one-off commands, over any RemoteStream."""

from __future__ import annotations

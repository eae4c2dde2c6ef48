"""The local side of a session: the terminal, stdin/stdout plumbing, the task picker."""

from __future__ import annotations

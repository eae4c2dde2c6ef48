"""Local configuration: named contexts, the scope lock for access gateways, completion."""

from __future__ import annotations

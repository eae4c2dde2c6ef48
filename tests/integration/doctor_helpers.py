"""Doctor against a sandbox API: in process through the CLI (``doctor``), or through the
library with shared clients (``DoctorWorld``), so that botocore loads its models once per
module instead of once per run. Both give the JSON document ``-o json`` prints."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.doctor.catalog import CHECKS
from ecs_exec.doctor.facts import DoctorRequest, Facts
from ecs_exec.doctor.model import Check
from ecs_exec.doctor.render import render_json
from ecs_exec.doctor.runner import run_checks
from ecs_exec.sandbox.http import SandboxHttpServer
from ecs_exec.sandbox.state import SandboxState
from tests.clihelpers import Result, clean_env, run_in_process


@dataclass
class Doctor:
    """One doctor run: its JSON document, its checks by id, and the CLI result if any."""

    document: dict[str, Any]
    result: Result | None = None

    @property
    def code(self) -> int:
        assert self.result is not None
        return self.result.code

    def __getitem__(self, check_id: str) -> dict[str, Any]:
        return next(c for c in self.document["checks"] if c["id"] == check_id)

    def status(self, check_id: str) -> str:
        return str(self[check_id]["status"])

    def statuses(self) -> dict[str, str]:
        return {c["id"]: c["status"] for c in self.document["checks"]}


def doctor(url: str | None, home: Path, *args: str, env: dict[str, str] | None = None) -> Doctor:
    """``ecs-exec [--endpoint-url URL] doctor ARGS -o json`` in this process."""
    environ = clean_env(home, **(env or {}))
    prefix = ["--endpoint-url", url] if url else []
    result = run_in_process([*prefix, "doctor", *args, "-o", "json"], environ)
    assert result.code in (0, 1), (result.code, result.err)
    assert result.err == "", result.err
    return Doctor(json.loads(result.out), result)


class DoctorWorld:
    """One sandbox API and one set of clients for a module's doctor runs."""

    def __init__(self, server: SandboxHttpServer, clients: AwsClients) -> None:
        self.server = server
        self.clients = clients
        self.base = DoctorRequest(region="us-east-1", endpoint_url=server.url)

    def run(
        self,
        *,
        state: SandboxState | None = None,
        clock: Callable[[], float] = time.time,
        clients: AwsClients | None = None,
        groups: tuple[str, ...] | None = None,
        **request: Any,
    ) -> Doctor:
        """Diagnose ``request`` (DoctorRequest fields) against ``state`` (default: the
        world the server was started with), with the module's clients or ``clients``;
        ``groups``: only the checks of these groups (and the ones they need)."""
        original = self.server.state
        if state is not None:
            self.server.replace_state(state)
        try:
            facts = Facts(replace(self.base, **request), clients or self.clients, clock=clock)
            report = run_checks(_subset(groups), facts)
        finally:
            self.server.replace_state(original)
        return Doctor(json.loads(render_json(report)))


def _subset(groups: tuple[str, ...] | None) -> list[Check]:
    if groups is None:
        return list(CHECKS)
    wanted = {c.id for c in CHECKS if c.group.value in groups}
    for check in reversed(CHECKS):  # needs come earlier in the catalog
        if check.id in wanted:
            wanted.update(check.needs)
    return [c for c in CHECKS if c.id in wanted]


@contextmanager
def doctor_world(state: SandboxState, home: Path) -> Iterator[DoctorWorld]:
    """A sandbox API serving ``state`` and clients whose credentials are already loaded."""
    with (
        SandboxHttpServer(state) as server,
        mock.patch.dict(os.environ, clean_env(home), clear=True),
    ):
        clients = AwsClients(AwsSettings(region="us-east-1", endpoint_url=server.url))
        clients.session.get_credentials()  # the session keeps them for every later client
        yield DoctorWorld(server, clients)

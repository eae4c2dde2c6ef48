"""Dynamic completion: names from the sandbox, the on-disk cache, the deadline."""

from __future__ import annotations

import threading

import pytest

from ecs_exec.config import completion, contexts
from ecs_exec.config.completion import Scope
from ecs_exec.config.contexts import Context, ContextStore
from ecs_exec.sandbox import demo
from tests.clihelpers import DEMO_CLUSTERS


@pytest.fixture
def scope(sandbox):
    return Scope(endpoint_url=sandbox.endpoint_url, region="us-east-1")


def test_names_from_the_sandbox(scope):
    assert completion.fetch_names("cluster", scope) == DEMO_CLUSTERS
    demo_scope = Scope(**{**scope.__dict__, "cluster": "demo"})
    assert "web" in completion.fetch_names("service", demo_scope)
    web = Scope(**{**scope.__dict__, "cluster": "demo", "service": "web"})
    tasks = completion.fetch_names("task", web)
    assert demo.WEB_READY_1 in tasks
    assert demo.WORKER_READY not in tasks
    assert completion.fetch_names("container", web) == ["app", "log-router"]
    assert completion.fetch_names("service", scope) == []  # no cluster yet


def test_answers_are_cached_for_a_few_seconds(tmp_path, scope):
    calls: list[str] = []

    def fetch(kind: str, where: Scope) -> list[str]:
        calls.append(kind)
        return ["alpha", "beta"]

    at = [100.0]

    def clock() -> float:
        return at[0]

    for _ in range(2):
        assert completion.complete("cluster", scope, "a", fetch=fetch, now=clock) == ["alpha"]
        at[0] += 1.0
    assert calls == ["cluster"]
    at[0] += completion.CACHE_SECONDS
    completion.complete("cluster", scope, fetch=fetch, now=clock)  # expired
    assert calls == ["cluster", "cluster"]
    at[0] = 0.0  # a clock that went backwards does not read a "future" entry
    completion.complete("cluster", scope, fetch=fetch, now=clock)
    assert len(calls) == 3
    # Another endpoint is another cache entry.
    other = Scope(endpoint_url="http://127.0.0.1:9", region="us-east-1")
    completion.complete("cluster", other, fetch=fetch, now=clock)
    assert len(calls) == 4


def test_a_slow_lookup_offers_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(completion, "DEADLINE_SECONDS", 0.05)
    release = threading.Event()

    def stuck(kind: str, where: Scope) -> list[str]:
        release.wait(10)
        return ["late"]

    try:
        assert completion.complete("cluster", Scope(), fetch=stuck, cache=tmp_path) == []
    finally:
        release.set()
    assert list(tmp_path.iterdir()) == []  # nothing cached


def test_a_failing_lookup_offers_nothing(tmp_path):
    def broken(kind: str, where: Scope) -> list[str]:
        raise RuntimeError("no credentials")

    assert completion.complete("cluster", Scope(), fetch=broken, cache=tmp_path) == []


def test_scope_follows_the_precedence(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path), "AWS_REGION": "eu-west-1"}
    store = ContextStore(path=contexts.contexts_path(env)).create(
        Context(name="sb", endpoint_url="http://127.0.0.1:1", region="us-east-1", cluster="demo")
    )
    contexts.save(store.use("sb"))
    scope = completion.scope_from({"service": "web"}, env)
    assert scope == Scope(
        endpoint_url="http://127.0.0.1:1", region="eu-west-1", cluster="demo", service="web"
    )
    assert completion.scope_from({"context": "nope"}, env).endpoint_url is None
    assert completion.context_names(env, "s") == ["sb"]
    assert completion.context_names(env, "x") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", 12.5),
        ("", completion.DEADLINE_SECONDS),
        ("soon", completion.DEADLINE_SECONDS),
        ("0", completion.DEADLINE_SECONDS),
        ("-4", completion.DEADLINE_SECONDS),
    ],
)
def test_the_deadline_comes_from_the_environment_when_it_is_a_positive_number(
    monkeypatch, value, expected
):
    monkeypatch.setenv(completion.DEADLINE_VAR, value)
    assert completion.deadline_seconds() == expected

"""The context store: TOML round trip, atomic 0600 writes, broken files, precedence."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from ecs_exec.config import contexts
from ecs_exec.config.contexts import Context, ContextStore
from ecs_exec.errors import ConfigurationError, UsageError


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "ecs-exec" / "contexts.toml"


def test_missing_file_is_an_empty_store(path):
    store = contexts.load(path)
    assert (store.contexts, store.current) == ((), None)


def test_round_trip_and_mode(path):
    store = ContextStore(path=path)
    store = store.create(Context(name="prod-eu", profile="prod", region="eu-west-1"))
    store = store.create(Context(name="sb", endpoint_url="http://127.0.0.1:1", locked=True))
    store = store.use("prod-eu")
    contexts.save(store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert contexts.load(path) == store
    assert [p.name for p in path.parent.iterdir()] == ["contexts.toml"]  # no temp file left


def test_save_replaces_a_looser_mode(path):
    path.parent.mkdir(parents=True)
    path.write_text("")
    path.chmod(0o644)
    contexts.save(ContextStore(path=path).create(Context(name="a")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40))
def test_toml_string_round_trips(value):
    assert tomllib.loads(f"v = {contexts.toml_string(value)}")["v"] == value


def test_render_is_human_readable(path):
    store = ContextStore(path=path).create(
        Context(name="a.b", description='say "hi"\\', cluster="c", locked=True)
    )
    text = contexts.render(store.use("a.b"))
    assert 'current-context = "a.b"' in text
    assert '[contexts."a.b"]' in text
    assert 'description = "say \\"hi\\"\\\\"' in text
    assert "locked = true" in text


def test_broken_file_names_file_and_line_and_is_kept(path):
    path.parent.mkdir(parents=True)
    text = 'current-context = "a"\n\n[contexts.a]\nregion = eu-west-1\n'
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        contexts.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 4" in message
    assert "\n" not in message
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[contexts.a]\nregoin = 'x'\n", "unknown setting 'regoin'"),
        ("[contexts.a]\nlocked = 'yes'\n", "locked must be true or false"),
        ("[contexts.a]\nregion = 1\n", "region must be a string"),
        ("[contexts.a]\nregion = ''\n", "the region of a context cannot be empty"),
        ("[contexts.a]\ntransport = 'carrier-pigeon'\n", "unknown transport"),
        ("[contexts.a]\nendpoint_url = 'ftp://x'\n", "not an http(s) URL"),
        ("current-context = 'b'\n[contexts.a]\n", "current-context 'b' is not a context"),
        ("colour = 'red'\n", "unknown key(s) colour"),
        ('[contexts."bad name"]\n', "'bad name' cannot name a context"),
    ],
)
def test_invalid_settings(path, text, needle):
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        contexts.load(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_name_lists_known(path):
    store = ContextStore(path=path).create(Context(name="a")).create(Context(name="b"))
    with pytest.raises(UsageError, match=r"no context named 'c' \(known: a, b\)"):
        store.get("c")
    with pytest.raises(UsageError, match=r"known: none yet"):
        ContextStore(path=path).use("x")


def test_create_update_remove(path):
    store = ContextStore(path=path).create(Context(name="a", region="r1"))
    with pytest.raises(UsageError, match="already exists"):
        store.create(Context(name="a"))
    store = store.update("a", {"region": "r2", "cluster": "c", "locked": True}).use("a")
    assert store.get("a") == Context(name="a", region="r2", cluster="c", locked=True)
    store = store.update("a", {"cluster": None})
    assert store.get("a").cluster is None
    store = store.update("new", {"region": "r3"}, create=True)
    assert store.names == ["a", "new"]
    with pytest.raises(UsageError, match="unknown transport"):
        store.update("a", {"transport": "x"})
    with pytest.raises(UsageError, match="unknown context setting"):
        store.update("a", {"colour": "red"})
    store = store.remove("a")
    assert (store.names, store.current) == (["new"], None)


@pytest.mark.parametrize("name", ["", "-", "a b", "x" * 64, ".a", "a/b"])
def test_bad_names(name):
    with pytest.raises(UsageError, match="cannot name a context"):
        contexts.check_name(name)


def test_config_dir(tmp_path):
    assert contexts.config_dir({"XDG_CONFIG_HOME": "/x"}) == Path("/x/ecs-exec")
    assert contexts.config_dir({"HOME": "/h"}) == Path("/h/.config/ecs-exec")


def test_selected_name(path):
    store = ContextStore(path=path).create(Context(name="a")).use("a")
    assert contexts.selected_name(store, "b", {"ECS_EXEC_CONTEXT": "c"}) == ("b", "--context")
    assert contexts.selected_name(store, None, {"ECS_EXEC_CONTEXT": "c"}) == (
        "c",
        "ECS_EXEC_CONTEXT",
    )
    assert contexts.selected_name(store, None, {}) == ("a", "current context")


def test_precedence_flag_env_context_default():
    context = Context(
        name="x", profile="cp", region="cr", endpoint_url="http://c", cluster="cc", service="cs"
    )
    env = {"AWS_REGION": "er", "CLUSTER_NAME": "ec"}
    result = contexts.effective_settings({"cluster": "fc"}, context, env)
    assert result == {
        "profile": "cp",
        "region": "er",
        "endpoint_url": "http://c",
        "cluster": "fc",
        "service": "cs",
        "container": None,
        "transport": None,
    }
    assert contexts.effective_settings({}, None, {})["region"] is None


def test_service_specific_endpoint_variables_beat_the_context():
    context = Context(name="x", endpoint_url="http://c")
    env = {"AWS_ENDPOINT_URL_ECS": "http://e"}
    assert contexts.effective_settings({}, context, env)["endpoint_url"] is None
    assert contexts.effective_settings({}, context, {})["endpoint_url"] == "http://c"

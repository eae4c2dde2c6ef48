"""The trimmed ECS model and the fast service lookup against botocore's own data."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from ecs_exec.aws import models
from ecs_exec.aws.models import (
    ECS_OPERATIONS,
    KnownServices,
    install_fast_service_lookup,
    install_trimmed_ecs_model,
    trimmed_model,
)


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    monkeypatch.setattr(models, "cache_dir", lambda: tmp_path)
    return tmp_path


def fresh_loader():
    return botocore.session.Session().get_component("data_loader")


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "waiters-2"])
def test_membership_agrees_with_botocores_listing(type_name):
    loader = fresh_loader()
    listed = set(loader.list_available_services(type_name))
    install_fast_service_lookup(loader)
    known = loader.list_available_services(type_name)
    assert isinstance(known, KnownServices)
    for name in ("ecs", "ssm", "kms", "sts", "sso", "s3", "dynamodb", "ecr"):
        assert (name in known) == (name in listed), name
    for name in ("no-such-service", "", ".", "..", "ecs/2014-11-13", 3):
        assert name not in known
    # Everything else is botocore's list, built the same way.
    assert list(known) == sorted(listed) and len(known) == len(listed)
    assert known[0] == sorted(listed)[0] and known == sorted(listed)
    assert loader.list_available_services(type_name) is known


def test_unknown_service_error_still_lists_the_services():
    loader = fresh_loader()
    install_fast_service_lookup(loader)
    with pytest.raises(botocore.exceptions.UnknownServiceError, match="ecs, "):
        loader.load_service_model("nope", "service-2")


def test_a_service_on_an_added_search_path_is_found(tmp_path):
    service = tmp_path / "mysvc" / "2020-01-01"
    service.mkdir(parents=True)
    (service / "service-2.json").write_text('{"metadata": {}, "operations": {}, "shapes": {}}')
    loader = fresh_loader()
    install_fast_service_lookup(loader)
    assert "mysvc" not in loader.list_available_services("service-2")
    loader.search_paths.insert(0, str(tmp_path))
    assert "mysvc" in loader.list_available_services("service-2")
    assert "mysvc" not in loader.list_available_services("paginators-1")


def test_trimmed_model_keeps_the_operations_and_every_shape_they_reach(cache):
    session = botocore.session.Session()
    install_trimmed_ecs_model(session)
    client = session.create_client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert sorted(client.meta.service_model.operation_names) == sorted(ECS_OPERATIONS)
    written = list(cache.glob("botocore-*/ecs/*/service-2.json"))
    assert len(written) == 1
    full = botocore.session.Session().get_service_model("ecs")
    trimmed = client.meta.service_model
    for name in ECS_OPERATIONS:
        ours, theirs = trimmed.operation_model(name), full.operation_model(name)
        assert ours.input_shape == theirs.input_shape or (
            ours.input_shape is not None
            and theirs.input_shape is not None
            and ours.input_shape.members.keys() == theirs.input_shape.members.keys()
        )
        assert [e.name for e in ours.error_shapes] == [e.name for e in theirs.error_shapes]


def test_trimmed_model_has_no_documentation():
    model = {
        "metadata": {"protocol": "json"},
        "operations": {
            "A": {"name": "A", "input": {"shape": "In"}, "documentation": "x"},
            "B": {"name": "B", "input": {"shape": "Unused"}},
        },
        "shapes": {
            "In": {"type": "structure", "members": {"l": {"shape": "L"}}, "documentation": "y"},
            "L": {"type": "list", "member": {"shape": "S"}},
            "S": {"type": "string"},
            "Unused": {"type": "string"},
        },
    }
    got = trimmed_model(model, ("A",))
    assert got["operations"] == {"A": {"name": "A", "input": {"shape": "In"}}}
    assert sorted(got["shapes"]) == ["In", "L", "S"]
    assert "documentation" not in str(got)


def test_an_unusable_cache_falls_back_to_the_full_model(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(models, "cache_dir", lambda: blocker / "cannot-be-a-directory")
    session = botocore.session.Session()
    install_trimmed_ecs_model(session)
    client = session.create_client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert "CreateCluster" in client.meta.service_model.operation_names

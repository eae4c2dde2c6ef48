"""The stubbed ECS client the resolution tests share."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def ecs(tmp_path, monkeypatch):
    """An ECS client and its Stubber (parameters checked against the service model); every
    queued response must be used. ecs-exec's cache between runs goes to ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    client = boto3.client(
        "ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()

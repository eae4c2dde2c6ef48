"""CloudWatch Logs: whether a log group exists, and whether it is KMS-encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_exec.aws._errors import map_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient


@dataclass(frozen=True)
class LogGroup:
    name: str
    arn: str
    kms_key_id: str | None


def find_log_group(
    client: CloudWatchLogsClient, name: str, *, profile: str | None = None
) -> LogGroup | None:
    """The log group named exactly ``name`` (logs:DescribeLogGroups), or None.

    Raises:
        AwsError: denied, throttled, unreachable.
    """
    with map_aws_errors(action="logs:DescribeLogGroups", profile=profile):
        paginator = client.get_paginator("describe_log_groups")
        for page in paginator.paginate(logGroupNamePrefix=name):
            for group in page.get("logGroups", []):
                if group.get("logGroupName") == name:
                    return LogGroup(
                        name=name,
                        arn=str(group.get("arn", "")).removesuffix(":*"),
                        kms_key_id=group.get("kmsKeyId") or None,
                    )
    return None

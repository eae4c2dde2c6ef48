"""SSM session calls: ResumeSession after a dropped websocket, TerminateSession to clean up.

These go to the SSM endpoint, not the ECS one: the official plugin sends them to the endpoint
the AWS CLI hands it, which for ECS Exec is the ECS endpoint and cannot work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_exec.aws._errors import map_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


def resume_session(client: SSMClient, session_id: str, *, profile: str | None = None) -> str | None:
    """A fresh token for a session, or None when the service says it has ended.

    Raises:
        AwsError: mapped from botocore.
    """
    with map_aws_errors(action="ssm:ResumeSession", profile=profile):
        response = client.resume_session(SessionId=session_id)
    token = response.get("TokenValue")
    return str(token) if token else None


def terminate_session(client: SSMClient, session_id: str, *, profile: str | None = None) -> None:
    """End a session on the service side (the agent stops the remote process).

    Raises:
        AwsError: mapped from botocore.
    """
    with map_aws_errors(action="ssm:TerminateSession", profile=profile):
        client.terminate_session(SessionId=session_id)

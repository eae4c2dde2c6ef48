"""Who the caller is: the credentials botocore found (source, expiry) and
sts:GetCallerIdentity, with the server's clock from the same answer.

Nothing here returns or logs a key, secret or token: only where the credentials came from
and when they expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from ecs_exec.aws._errors import map_aws_errors

if TYPE_CHECKING:
    import botocore.session
    from mypy_boto3_sts import STSClient

#: botocore's credential provider names (``Credentials.method``), in words.
SOURCES: dict[str, str] = {
    "env": "environment variables (AWS_ACCESS_KEY_ID)",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the shared config file",
    "sso": "AWS IAM Identity Center (SSO)",
    "assume-role": "an assumed role (profile role_arn)",
    "assume-role-with-web-identity": "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "custom-process": "a credential_process",
    "container-role": "the container's credentials endpoint (an ECS task role)",
    "iam-role": "the instance metadata service (an EC2 instance profile)",
    "explicit": "explicit credentials",
}


@dataclass(frozen=True)
class CredentialsInfo:
    """Where the credentials came from, and when they expire (None: they do not)."""

    method: str
    expiry: datetime | None

    @property
    def source(self) -> str:
        return SOURCES.get(self.method, self.method)


@dataclass(frozen=True)
class CallerIdentity:
    """sts:GetCallerIdentity's answer, with the clocks on both ends.

    Args:
        server_time: the answer's HTTP Date header (one-second resolution), if any.
        local_time: this machine's clock when the answer arrived.
    """

    account: str
    arn: str
    user_id: str
    server_time: datetime | None
    local_time: datetime

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1] if self.arn.count(":") >= 5 else "aws"


def find_credentials(
    session: botocore.session.Session, *, profile: str | None
) -> CredentialsInfo | None:
    """The credentials botocore's chain finds, or None when there are none.

    Raises:
        CredentialsError, ConfigurationError: the chain failed (an expired SSO session, a
            profile that does not exist, a failing credential_process).
    """
    with map_aws_errors(profile=profile):
        credentials = session.get_credentials()
    if credentials is None:
        return None
    # RefreshableCredentials keeps the expiry in a private attribute only; static keys
    # have none.
    expiry = getattr(credentials, "_expiry_time", None)
    return CredentialsInfo(
        method=str(getattr(credentials, "method", "") or "unknown"),
        expiry=expiry if isinstance(expiry, datetime) else None,
    )


def get_caller_identity(
    client: STSClient, *, profile: str | None, clock: Callable[[], float] = time.time
) -> CallerIdentity:
    """Call sts:GetCallerIdentity (it needs no permission: no policy can deny it).

    Raises:
        AwsError: mapped from botocore (bad or expired credentials, unreachable).
    """
    with map_aws_errors(action="sts:GetCallerIdentity", profile=profile):
        response = client.get_caller_identity()
    local = datetime.fromtimestamp(clock(), UTC)
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    server: datetime | None = None
    if headers.get("date"):
        try:
            server = parsedate_to_datetime(headers["date"])
        except (TypeError, ValueError):
            server = None
    return CallerIdentity(
        account=str(response.get("Account", "")),
        arn=str(response.get("Arn", "")),
        user_id=str(response.get("UserId", "")),
        server_time=server,
        local_time=local,
    )

"""AWS session and client factory (botocore): profile, region, endpoint and retries in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ecs_exec.aws._errors import map_aws_errors
from ecs_exec.errors import ConfigurationError

if TYPE_CHECKING:
    import botocore.session
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient


@dataclass(frozen=True)
class AwsSettings:
    """Where and as whom to call AWS.

    Args:
        profile: a shared-config profile (static keys, SSO, assume-role), or None for the
            default chain (environment, container credentials of a task role, instance role).
        region: the region, or None to take it from the environment or the profile.
        endpoint_url: one endpoint for ECS, SSM and KMS (the sandbox serves all three);
            None lets botocore honour AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
        max_attempts: attempts per call, the first included, in botocore's "standard" retry
            mode (throttling, 5xx, connection errors).
    """

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 3


class AwsClients:
    """Lazily built, shared boto3 clients for one invocation."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings

    @cached_property
    def session(self) -> botocore.session.Session:
        # botocore directly: boto3 adds ~20 ms of imports and a data path to search, and
        # ecs-exec needs only clients. Same credential chain and configuration.
        import botocore.session

        from ecs_exec.aws.models import install_trimmed_ecs_model

        with map_aws_errors(profile=self.settings.profile):
            session = botocore.session.Session(profile=self.settings.profile)
            if self.settings.region:
                session.set_config_variable("region", self.settings.region)
            session.user_agent_extra = "ecs-exec"
            install_trimmed_ecs_model(session)
            return session

    def _client(self, service: str, **options: Any) -> Any:
        from botocore.config import Config

        config = Config(
            # total_max_attempts counts the first call; botocore's max_attempts would not.
            retries={"mode": "standard", "total_max_attempts": self.settings.max_attempts},
            connect_timeout=5,
            read_timeout=60,
            **options,
        )
        with map_aws_errors(profile=self.settings.profile):
            try:
                return self.session.create_client(
                    service, endpoint_url=self.settings.endpoint_url, config=config
                )
            except ValueError as exc:
                from botocore.exceptions import BotoCoreError

                if isinstance(exc, BotoCoreError):  # InvalidRegionError: map_aws_errors names it
                    raise
                # botocore's "Invalid endpoint: URL", from a malformed AWS_ENDPOINT_URL(_ECS),
                # endpoint in the profile, or a region that makes a malformed host name.
                raise ConfigurationError(
                    f"the {service.upper()} endpoint is not a valid URL ({exc})",
                    hint="check AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_"
                    f"{service.upper()}, the profile's endpoint_url and the region",
                ) from exc

    @cached_property
    def ecs(self) -> ECSClient:
        client: ECSClient = self._client("ecs")
        return client

    @cached_property
    def ssm(self) -> SSMClient:
        client: SSMClient = self._client("ssm")
        return client

    @cached_property
    def kms(self) -> KMSClient:
        client: KMSClient = self._client("kms")
        return client

    def without_retries(self) -> AwsClients:
        """Clients that make one attempt per call, on the same botocore session (credentials
        and models are loaded once): the fan-out retries throttled ExecuteCommand itself."""
        other = AwsClients(dataclasses.replace(self.settings, max_attempts=1))
        other.__dict__["session"] = self.session
        return other

    # The clients `ecs-exec doctor` needs besides those of exec.
    @cached_property
    def sts(self) -> STSClient:
        client: STSClient = self._client("sts")
        return client

    @cached_property
    def iam(self) -> IAMClient:
        client: IAMClient = self._client("iam")
        return client

    @cached_property
    def ec2(self) -> EC2Client:
        client: EC2Client = self._client("ec2")
        return client

    @cached_property
    def logs(self) -> CloudWatchLogsClient:
        client: CloudWatchLogsClient = self._client("logs")
        return client

    @cached_property
    def s3(self) -> S3Client:
        # An endpoint URL (the sandbox, an IP) cannot take virtual-hosted bucket names.
        path_style = {"s3": {"addressing_style": "path"}} if self.settings.endpoint_url else {}
        client: S3Client = self._client("s3", **path_style)
        return client

    @property
    def region(self) -> str:
        return str(self.ecs.meta.region_name)

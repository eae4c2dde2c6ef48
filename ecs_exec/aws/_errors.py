"""Map botocore exceptions to ecs-exec's exception tree, at the boundary (httpx style)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ecs_exec.errors import (
    AccessDeniedError,
    AwsError,
    AwsServiceError,
    ClusterNotFoundError,
    ConfigurationError,
    CredentialsError,
    EndpointUnreachableError,
    ExecNotReadyError,
    ServiceNotFoundError,
    TargetNotConnectedError,
    ThrottledError,
)

_THROTTLING = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
    "InvalidAccessKeyId",
}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}

EXEC_NOT_ENABLED_HINT = (
    "exec must be enabled when the task starts: update the service with "
    "--enable-execute-command and force a new deployment"
)


def with_doctor_hint(hint: str | None, cluster: str, task: str) -> str:
    """``hint`` followed by the `ecs-exec doctor` line that checks this task's setup."""
    line = f"`ecs-exec doctor --cluster {cluster} --task {task}` checks every prerequisite"
    return f"{hint}; {line}" if hint else line


def credentials_hint(profile: str | None) -> str:
    if profile:
        return (
            f"refresh the credentials of profile '{profile}' "
            f"(for SSO: `aws sso login --profile {profile}`)"
        )
    return (
        "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, "
        "or run where a task or instance role provides credentials"
    )


def is_retryable(error: BaseException) -> bool:
    """Whether an error is worth retrying at a higher level (botocore already retried once)."""
    return isinstance(error, ThrottledError | EndpointUnreachableError)


@contextmanager
def map_aws_errors(
    *,
    action: str | None = None,
    profile: str | None = None,
    cluster: str | None = None,
    service: str | None = None,
    region: str | None = None,
) -> Iterator[None]:
    """Turn botocore exceptions raised inside the block into ``ecs_exec.errors`` ones.

    Args:
        action: the IAM action being performed (``ecs:ListTasks``), named in denials.
        profile: the profile in use, named in credential hints.
        cluster, service, region: what the call was about, named when ECS says it does
            not exist.

    Raises:
        AwsError: a subclass chosen by the AWS error code; ConfigurationError for a missing
            region or profile.
    """
    from botocore import exceptions as bce
    from botocore.parsers import ResponseParserError

    try:
        yield
    except AwsError:
        raise
    except bce.ClientError as exc:
        where = _Where(cluster=cluster, service=service, region=region)
        raise _from_client_error(exc, action=action, profile=profile, where=where) from exc
    except bce.InvalidRegionError as exc:
        raise ConfigurationError(
            f"'{exc.kwargs.get('region_name', '')}' is not a valid AWS region name",
            hint="use a region such as us-east-1 (--region, AWS_REGION or AWS_DEFAULT_REGION)",
        ) from exc
    except bce.NoRegionError as exc:
        raise ConfigurationError(
            "no AWS region is configured",
            hint="pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set a region "
            "in the profile",
        ) from exc
    except bce.ProfileNotFound as exc:
        raise ConfigurationError(
            f"the AWS profile '{profile or exc.kwargs.get('profile', '')}' does not exist",
            hint="check --profile / AWS_PROFILE against ~/.aws/config",
        ) from exc
    except (bce.SSOTokenLoadError, bce.UnauthorizedSSOTokenError, bce.TokenRetrievalError) as exc:
        raise CredentialsError(
            "the AWS SSO session has expired or was never started",
            hint=f"run `aws sso login{' --profile ' + profile if profile else ''}`",
        ) from exc
    except (bce.NoCredentialsError, bce.PartialCredentialsError) as exc:
        raise CredentialsError(
            "no AWS credentials were found", hint=credentials_hint(profile)
        ) from exc
    except bce.CredentialRetrievalError as exc:
        raise CredentialsError(
            f"AWS credentials could not be loaded: {exc}", hint=credentials_hint(profile)
        ) from exc
    except (bce.EndpointConnectionError, bce.ConnectTimeoutError) as exc:
        raise EndpointUnreachableError(
            f"could not connect to {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}",
            hint="check the network, --endpoint-url / AWS_ENDPOINT_URL, or that the sandbox "
            "is running",
        ) from exc
    except bce.ReadTimeoutError as exc:
        raise EndpointUnreachableError(
            f"the AWS endpoint did not answer in time ({exc.kwargs.get('endpoint_url', '')})",
            hint="retry, or check the network",
        ) from exc
    except bce.ParamValidationError as exc:
        first = str(exc).splitlines()[-1].strip()
        raise AwsServiceError(
            f"invalid request parameters: {first}", code="ParamValidationError"
        ) from exc
    except bce.BotoCoreError as exc:
        raise AwsServiceError(f"AWS client error: {exc}", code=type(exc).__name__) from exc
    except ResponseParserError as exc:
        # Not a BotoCoreError: an answer botocore cannot parse (a proxy's or an emulator's
        # page instead of the service's).
        first = str(exc).splitlines()[0]
        raise AwsServiceError(
            f"the endpoint's answer could not be parsed ({first})",
            code="ResponseParserError",
            hint="check --endpoint-url / AWS_ENDPOINT_URL and the proxy settings",
        ) from exc


@dataclass(frozen=True)
class _Where:
    cluster: str | None
    service: str | None
    region: str | None

    @property
    def in_region(self) -> str:
        return f" in {self.region}" if self.region else ""


def _from_client_error(
    exc: object, *, action: str | None, profile: str | None, where: _Where
) -> AwsError:
    from botocore.exceptions import ClientError

    assert isinstance(exc, ClientError)
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", "")).strip()
    operation = exc.operation_name
    what = action or operation
    if code in _THROTTLING:
        return ThrottledError(
            f"AWS throttled {what} and kept throttling after retries",
            hint="wait a moment and retry; other tools in this account may be calling ECS too",
        )
    if code in _BAD_CREDENTIALS:
        expired = "Expired" in code
        return CredentialsError(
            "the AWS credentials have expired"
            if expired
            else f"AWS rejected the credentials ({code})",
            hint=credentials_hint(profile),
        )
    if code in _DENIED:
        return AccessDeniedError(
            f"access denied: the caller may not perform {what}",
            action=what,
            hint=f"grant {what} to this identity (see the IAM section of the README)"
            + (f"; AWS said: {message}" if message else ""),
        )
    if code == "ClusterNotFoundException":
        named = f"cluster '{where.cluster}'" if where.cluster else "the cluster"
        return ClusterNotFoundError(
            f"{named} not found{where.in_region}",
            cluster=where.cluster,
            hint="run `ecs-exec ls` to list the clusters in this region",
        )
    if code == "ServiceNotFoundException":
        named = f"service '{where.service}'" if where.service else "the service"
        in_cluster = f" in cluster '{where.cluster}'" if where.cluster else ""
        return ServiceNotFoundError(
            f"{named} not found{in_cluster}",
            cluster=where.cluster,
            service=where.service,
            hint=f"run `ecs-exec ls --cluster {where.cluster or 'CLUSTER'}` to list its services",
        )
    if code == "TargetNotConnectedException":
        return TargetNotConnectedError(
            "ECS could not connect to the exec agent in the container"
            + (f": {message}" if message else ""),
            hint="the task role needs ssmmessages:CreateControlChannel, CreateDataChannel, "
            "OpenControlChannel and OpenDataChannel, the task needs a route to ssmmessages, "
            "and the root filesystem must be writable",
        )
    if code == "InvalidParameterException" and "execute command" in message.lower():
        # ECS gives this one answer for "exec not enabled", "agent not running yet" and a
        # task that began stopping after ecs-exec checked it: the hint has to cover all three.
        return ExecNotReadyError(
            "execute command is not enabled for this task or its agent is not running",
            hint="if the task is starting or stopping, retry in a few seconds or pick another "
            "task (`ecs-exec ls`); otherwise " + EXEC_NOT_ENABLED_HINT,
        )
    return AwsServiceError(f"{what} failed: {code}: {message}", code=code)

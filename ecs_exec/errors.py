"""The one exception tree of ecs-exec, and the exit statuses the CLI maps it to.

    EcsExecError                    base; .exit_status, .hint
    ├── UsageError                  bad flags or flag combinations (exit 2)
    │   └── ScopeLockedError          an argument the scope lock of a gateway refuses
    ├── ConfigurationError          region missing, bad endpoint URL, bad state file
    ├── AwsError                    raised only through ecs_exec.aws._errors.map_aws_errors()
    │   ├── CredentialsError          no, expired or unusable credentials
    │   ├── AccessDeniedError         an IAM policy denied an action (.action names it)
    │   ├── ThrottledError            still throttled after botocore's standard retries
    │   ├── EndpointUnreachableError  the AWS (or sandbox) endpoint did not answer
    │   ├── TargetNotFoundError       no cluster/service/task/container matched
    │   │   ├── ClusterNotFoundError    the named cluster does not exist (.cluster)
    │   │   └── ServiceNotFoundError    the named service is not in the cluster (.service)
    │   ├── AmbiguousTargetError      several candidates and no way to choose (.candidates)
    │   ├── ExecNotReadyError         exec not enabled, agent not running (.reasons per task)
    │   ├── TargetNotConnectedError   ECS/SSM could not reach the agent in the container
    │   └── AwsServiceError           any other AWS error, with its code
    ├── SessionError                the Session Manager data channel failed
    │   ├── ProtocolError
    │   │   ├── LocalProtocolError    we asked the channel to do something illegal (a bug)
    │   │   └── RemoteProtocolError   the agent sent invalid data (bad digest, decrypt failure)
    │   ├── HandshakeError            the session-type or KMS handshake failed
    │   ├── ConnectionLostError       the websocket dropped and could not be resumed in time
    │   ├── StreamConnectError        the data channel's websocket could not be opened
    │   │   └── StreamTokenRejectedError  the service refused the stream token (HTTP 403)
    │   ├── TaskStoppedError          the task stopped while the session ran
    │   ├── SessionEndedError         the session ended before the remote exit status came
    │   ├── SessionTimedOutError      a fan-out task ran past --timeout (terminated)
    │   ├── SessionCancelledError     a fan-out session terminated by --fail-fast or a signal
    │   ├── RemoteSetupError          the container lacks what the remote framing needs
    │   ├── SessionNotTerminatedError TerminateSession failed (a warning, never raised)
    │   └── InvalidStateError         misuse of a channel in the wrong state
    ├── TaskStartError              `run`: the task it started could not start (.task_id)
    ├── PluginError                 the session-manager-plugin binary is missing or failed
    ├── TerminalError               a terminal was required and none is there
    ├── LocalStreamError            local stdout/stdin unusable (closed, disk full)
    └── CopyError                   `cp` could not copy (.kind: no-such-file, permission, ...)
        └── CopyInterruptedError      a stop signal ended the copy (exit 128+N)

Exit statuses (the decision recorded here): a session that ran exits with the *remote*
command's exit status, unchanged (0-254, and 128+N when the remote process died of signal N).
The tool's own failures exit 255, as ssh does, so a script can tell "the remote command failed"
from "ecs-exec could not run it". Usage errors exit 2 (as typer/click and most CLIs do) and a
local Ctrl-C that ends the tool exits 130.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit statuses of the ecs-exec process itself (remote statuses pass through)."""

    SUCCESS = 0
    USAGE = 2
    INTERRUPTED = 130
    TOOL_FAILURE = 255


class EcsExecError(Exception):
    """Base of every error ecs-exec raises on purpose.

    Args:
        message: one lower-case line naming what was wrong.
        hint: an optional line saying how to fix it.
    """

    exit_status: ExitStatus = ExitStatus.TOOL_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(EcsExecError):
    """Flags or flag combinations that cannot work."""

    exit_status = ExitStatus.USAGE


class ScopeLockedError(UsageError):
    """An argument would widen a connection the scope lock pins (see the README).

    Args:
        setting: the locked setting, e.g. ``cluster``, or the refused command.
    """

    def __init__(self, message: str, *, setting: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.setting = setting


class ConfigurationError(EcsExecError):
    """Local configuration is missing or wrong (region, endpoint URL, state file)."""


class AwsError(EcsExecError):
    """An AWS API call failed; raised only through ``map_aws_errors``."""


class CredentialsError(AwsError):
    """No credentials, expired credentials, or credentials AWS rejects."""


class AccessDeniedError(AwsError):
    """An IAM policy denied an action.

    Args:
        action: the denied action, e.g. ``ecs:ExecuteCommand``.
    """

    def __init__(self, message: str, *, action: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.action = action


class ThrottledError(AwsError):
    """AWS kept throttling after botocore's standard retries."""


class EndpointUnreachableError(AwsError):
    """The endpoint did not answer (network, DNS, or a sandbox that is not running)."""


class TargetNotFoundError(AwsError):
    """No cluster, service, task or container matched what was asked for."""


class ClusterNotFoundError(TargetNotFoundError):
    """ECS said ClusterNotFoundException for the cluster named in ``cluster``."""

    def __init__(self, message: str, *, cluster: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.cluster = cluster


class ServiceNotFoundError(TargetNotFoundError):
    """ECS said ServiceNotFoundException for ``service`` in ``cluster``."""

    def __init__(
        self, message: str, *, cluster: str | None, service: str | None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.cluster = cluster
        self.service = service


class AmbiguousTargetError(AwsError):
    """Several candidates match and there is no way to choose one.

    Args:
        candidates: what matched, in the order the CLI should show them.
    """

    def __init__(self, message: str, *, candidates: Sequence[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.candidates = tuple(candidates)


class ExecNotReadyError(AwsError):
    """No task can take an ECS Exec session; ``reasons`` says why, per task.

    Args:
        reasons: one human line per task, naming the failed condition and the fix.
    """

    def __init__(
        self, message: str, *, reasons: Sequence[str] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reasons = tuple(reasons)


class TargetNotConnectedError(AwsError):
    """ECS could not reach the SSM agent in the container."""


class AwsServiceError(AwsError):
    """Any other AWS error.

    Args:
        code: the AWS error code, e.g. ``InvalidParameterException``.
    """

    def __init__(self, message: str, *, code: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class SessionError(EcsExecError):
    """The Session Manager data channel failed."""


class ProtocolError(SessionError):
    """A data-channel protocol violation."""


class LocalProtocolError(ProtocolError):
    """We asked the channel to do something the protocol does not allow (a bug)."""


class RemoteProtocolError(ProtocolError):
    """The far end sent data that violates the protocol."""


class HandshakeError(SessionError):
    """The session-type or KMS encryption handshake failed."""


class ConnectionLostError(SessionError):
    """The websocket dropped and the session could not be resumed within the bound."""


class StreamConnectError(SessionError):
    """The data channel's websocket could not be opened: refused, DNS, TLS, proxy, timeout,
    or an HTTP status other than 101 on the stream URL.

    Args:
        retryable: whether a later attempt (with a fresh token) may succeed.
    """

    def __init__(self, message: str, *, retryable: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class StreamTokenRejectedError(StreamConnectError):
    """The service refused the stream token (expired, or already used)."""


class TaskStoppedError(SessionError):
    """The task stopped during the session (the agent dies with it and says nothing)."""


class SessionEndedError(SessionError):
    """The session ended before the remote command reported its exit status.

    Args:
        reason: ``"terminated"``, ``"idle"``, ``"lost-output"`` or ``"not-started"``.
    """

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class SessionTimedOutError(SessionError):
    """A fan-out task ran longer than --timeout; its session was terminated."""


class SessionCancelledError(SessionError):
    """A fan-out session was terminated because the run stopped (--fail-fast, a signal)."""


class RemoteSetupError(SessionError):
    """The container lacks a tool the remote framing needs (named in the message)."""


class SessionNotTerminatedError(SessionError):
    """TerminateSession failed after the session was cut short: the remote command may still
    be running. Handed to a warning callback, not raised: the session's own outcome (an exit
    status or another error) is what the caller reports first.

    Args:
        session_id: the session that may still be running.
    """

    def __init__(self, message: str, *, session_id: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.session_id = session_id


class InvalidStateError(EcsExecError, AssertionError):
    """A channel or session was used in a state that does not allow it."""


class TaskStartError(EcsExecError):
    """`ecs-exec run` could not start its task: ECS could not place it, it stopped while
    starting, its exec agent never ran, or the wait timed out. The message carries AWS's
    own reason.

    Args:
        task_id: the task that was started, or None when ECS started none.
    """

    def __init__(self, message: str, *, task_id: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.task_id = task_id


class PluginError(EcsExecError):
    """The session-manager-plugin binary is missing, or failed to run the session."""


class TerminalError(EcsExecError):
    """A terminal was required (or could not be set up) and none is usable."""


class LocalStreamError(EcsExecError):
    """A local standard stream cannot be used: stdout closed, or a write failed (disk full)."""


class CopyError(EcsExecError):
    """``ecs-exec cp`` could not copy; nothing was put in place.

    Args:
        kind: what went wrong, for scripts and tests: ``no-such-file``, ``permission``,
            ``not-a-directory``, ``is-a-directory``, ``disk-full``, ``no-tar``,
            ``verify-failed``, ``remote``, ``local``, ``archive``.
    """

    def __init__(self, message: str, *, kind: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


class CopyInterruptedError(CopyError):
    """A stop signal (Ctrl-C) ended the copy; its exit status is 128+N."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, kind="interrupted", hint=hint)
        self.status = status

    @property
    def exit_status(self) -> int:  # type: ignore[override]
        return self.status


__all__ = [
    "AccessDeniedError",
    "AmbiguousTargetError",
    "AwsError",
    "AwsServiceError",
    "ClusterNotFoundError",
    "ConfigurationError",
    "ConnectionLostError",
    "CopyError",
    "CopyInterruptedError",
    "CredentialsError",
    "EcsExecError",
    "EndpointUnreachableError",
    "ExecNotReadyError",
    "ExitStatus",
    "HandshakeError",
    "InvalidStateError",
    "LocalProtocolError",
    "LocalStreamError",
    "PluginError",
    "ProtocolError",
    "RemoteProtocolError",
    "RemoteSetupError",
    "ScopeLockedError",
    "ServiceNotFoundError",
    "SessionError",
    "SessionNotTerminatedError",
    "StreamConnectError",
    "StreamTokenRejectedError",
    "TargetNotConnectedError",
    "TargetNotFoundError",
    "TaskStartError",
    "TaskStoppedError",
    "TerminalError",
    "ThrottledError",
    "UsageError",
]

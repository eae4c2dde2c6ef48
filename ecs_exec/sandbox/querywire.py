"""The AWS query protocol of the sandbox endpoint (STS, IAM, EC2): form in, XML out; no I/O.

A query request is ``POST /`` with ``Content-Type: application/x-www-form-urlencoded`` and a
body ``Action=GetRole&Version=2010-05-08&RoleName=web-task``. The service is the one named in
the SigV4 credential scope of the ``Authorization`` header (``Credential=AKID/20240501/
us-east-1/iam/aws4_request``), or else the one whose API ``Version`` the body names, as one
endpoint serves them all.

Answers, as the services write them (botocore's ``query`` and ``ec2`` parsers read them):

* STS and IAM: ``<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult>...</GetRoleResult><ResponseMetadata><RequestId>..</RequestId>
  </ResponseMetadata></GetRoleResponse>``; list items are ``<member>``. Errors:
  ``<ErrorResponse xmlns=".."><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
  <Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>``.
* EC2: ``<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>..</requestId><subnetSet><item>...</item></subnetSet></DescribeSubnetsResponse>``;
  errors ``<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors>
  <RequestID>..</RequestID></Response>``.

The formats are described in docs/sandbox-world.md#2-wire-formats. Handlers return plain dicts
whose keys are the XML element names; lists become repeated ``member``/``item`` elements,
booleans ``true``/``false``. Faults from ``state.faults["api"]`` apply by action name, as for
the JSON APIs.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from ecs_exec.sandbox.api import FAULT_DEFAULTS
from ecs_exec.sandbox.state import SandboxState

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
XML_CONTENT_TYPE = "text/xml"

#: service -> (API version, XML namespace); EC2's is the one its answers carry.
SERVICES: dict[str, tuple[str, str]] = {
    "sts": ("2011-06-15", "https://sts.amazonaws.com/doc/2011-06-15/"),
    "iam": ("2010-05-08", "https://iam.amazonaws.com/doc/2010-05-08/"),
    "ec2": ("2016-11-15", "http://ec2.amazonaws.com/doc/2016-11-15/"),
}
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")

#: Default HTTP status of the query services' error codes (others: 400).
_STATUS = {
    "AccessDenied": 403,
    "UnauthorizedOperation": 403,
    "NoSuchEntity": 404,
    "ServiceFailure": 500,
    "InternalError": 500,
    "Unavailable": 503,
    "RequestLimitExceeded": 503,
}

Params = dict[str, str]
Handler = Callable[[Params, SandboxState], dict[str, Any]]


class QueryError(Exception):
    """An error answer of a query service."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
        self.status = status if status is not None else _STATUS.get(code, 400)


@dataclass(frozen=True)
class QueryReply:
    status: int
    body: bytes
    service: str  #: ``sts``/``iam``/``ec2``, or ``""`` when it could not be told
    action: str
    params: Params
    request_id: str


def is_query(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == FORM_CONTENT_TYPE


def service_of(authorization: str, params: Mapping[str, str]) -> str:
    """The service a query request is for, or ``""``."""
    match = _SCOPE.search(authorization)
    if match and match.group(1) in SERVICES:
        return match.group(1)
    version = params.get("Version")
    return next((name for name, (v, _) in SERVICES.items() if v == version), "")


# -- parameters -------------------------------------------------------------------------------


def members(params: Params, prefix: str) -> list[str]:
    """A query list ``Prefix.member.1``, ``Prefix.member.2``... (STS/IAM) in order."""
    return _indexed(params, f"{prefix}.member.")


def ec2_list(params: Params, prefix: str) -> list[str]:
    """An EC2 list ``SubnetId.1``, ``SubnetId.2``... in order."""
    return _indexed(params, f"{prefix}.")


def _indexed(params: Params, start: str) -> list[str]:
    found = []
    for key, value in params.items():
        rest = key.removeprefix(start)
        if rest != key and rest.isdigit():
            found.append((int(rest), value))
    return [value for _, value in sorted(found)]


def struct_members(params: Params, prefix: str) -> list[Params]:
    """A query list of structures, ``Prefix.member.N.Field[...]``, as one dict per item."""
    items: dict[int, Params] = {}
    start = f"{prefix}.member."
    for key, value in params.items():
        if key.startswith(start):
            index, _, field = key[len(start) :].partition(".")
            if index.isdigit() and field:
                items.setdefault(int(index), {})[field] = value
    return [items[i] for i in sorted(items)]


def ec2_filters(params: Params) -> dict[str, list[str]]:
    """``Filter.N.Name`` / ``Filter.N.Value.M`` as ``{name: [values]}``."""
    names: dict[int, str] = {}
    values: dict[int, list[tuple[int, str]]] = {}
    for key, value in params.items():
        parts = key.split(".")
        if parts[0] != "Filter" or len(parts) < 3 or not parts[1].isdigit():
            continue
        if parts[2] == "Name" and len(parts) == 3:
            names[int(parts[1])] = value
        elif parts[2] == "Value" and len(parts) == 4 and parts[3].isdigit():
            values.setdefault(int(parts[1]), []).append((int(parts[3]), value))
    return {name: [v for _, v in sorted(values.get(i, []))] for i, name in names.items()}


def required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None:
        # IAM's wording for a missing parameter.
        raise QueryError(
            "ValidationError",
            f"1 validation error detected: Value null at '{name[:1].lower() + name[1:]}'"
            " failed to satisfy constraint: Member must not be null",
        )
    return value


# -- XML --------------------------------------------------------------------------------------


def _xml(tag: str, value: Any, item_tag: str, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        out.append(f"<{tag}>")
        for key, child in value.items():
            _xml(key, child, item_tag, out)
        out.append(f"</{tag}>")
    elif isinstance(value, list):
        out.append(f"<{tag}>")
        for child in value:
            _xml(item_tag, child, item_tag, out)
        out.append(f"</{tag}>")
    elif isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    else:
        out.append(f"<{tag}>{escape(str(value))}</{tag}>")


def render(service: str, action: str, result: Mapping[str, Any], request_id: str) -> bytes:
    """The success document of ``action``."""
    namespace = SERVICES[service][1]
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(f'<{action}Response xmlns="{namespace}">')
    if service == "ec2":
        out.append(f"<requestId>{request_id}</requestId>")
        for key, value in result.items():
            _xml(key, value, "item", out)
    else:
        out.append(f"<{action}Result>")
        for key, value in result.items():
            _xml(key, value, "member", out)
        out.append(f"</{action}Result>")
        out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{action}Response>")
    return "".join(out).encode()


def render_error(service: str, error: QueryError, request_id: str) -> bytes:
    code, message = escape(error.code), escape(error.message)
    if service == "ec2":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    namespace = SERVICES.get(service, SERVICES["iam"])[1]
    kind = "Receiver" if error.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    ).encode()


def xml_timestamp(epoch: float) -> str:
    """ISO 8601 UTC with a ``Z``, as IAM and EC2 write times."""
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


# -- dispatch ---------------------------------------------------------------------------------


def _fault(fault: Mapping[str, Any]) -> QueryError:
    code = str(fault.get("error", "Throttling"))
    status, message = FAULT_DEFAULTS.get(code, (_STATUS.get(code, 400), code))
    status = _STATUS.get(code, status)
    return QueryError(code, str(fault.get("message", message)), int(fault.get("status", status)))


def handle(
    raw: bytes,
    authorization: str,
    state: SandboxState,
    handlers: Mapping[str, Mapping[str, Handler]],
) -> QueryReply:
    """Answer one query-protocol request.

    Args:
        raw: the form-encoded body.
        authorization: the ``Authorization`` header (its scope names the service), or "".
        state: the world.
        handlers: ``{service: {Action: handler}}``.
    """
    request_id = str(uuid.uuid4())
    try:
        params = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        params = {}
    service = service_of(authorization, params)
    action = params.get("Action", "")
    try:
        if not authorization:
            raise QueryError(
                "MissingAuthenticationToken", "Request is missing Authentication Token"
            )
        handler = handlers.get(service, {}).get(action)
        if handler is None:
            raise QueryError(
                "InvalidAction",
                f"Could not find operation {action} for version {params.get('Version')}",
            )
        fault = state.take_api_fault(action)
        if fault is not None:
            raise _fault(fault)
        with state.lock:
            result = handler(params, state)
        body = render(service, action, result, request_id)
        return QueryReply(200, body, service, action, params, request_id)
    except QueryError as exc:
        body = render_error(service, exc, request_id)
        return QueryReply(exc.status, body, service, action, params, request_id)

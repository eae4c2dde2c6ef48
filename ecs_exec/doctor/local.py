"""Local checks: region, credentials, identity, clock, proxy, the data channel's endpoint,
and the session-manager-plugin binary with ``--transport plugin``."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ecs_exec.aws._errors import credentials_hint
from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped, warning
from ecs_exec.doctor.probe import probe, redact

#: AWS refuses a request signed more than 5 minutes away from its clock ("Signature
#: expired", docs/doctor.md#6-caller-permissions-and-policy-simulation); a minute is worth a
#: warning (the Date header has one-second resolution).
SKEW_FAIL = timedelta(minutes=5)
SKEW_WARN = timedelta(minutes=1)
#: Credentials that expire sooner than this get a warning: a session outlives them when it
#: has to resume or terminate.
EXPIRY_WARN = timedelta(minutes=15)
PROXY_VARIABLES = (
    *("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"),
    *("all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"),
)


def check_region(facts: Facts) -> Finding:
    region = facts.region()
    source = facts.request.region_source or "the profile or botocore's defaults"
    return ok(f"{region} (from {source})", region=region, source=source)


def check_credentials(facts: Facts) -> Finding:
    found = facts.credentials()
    if found is None:
        return failed(
            "no AWS credentials found",
            "botocore's chain (environment, profile, SSO, container and instance roles) "
            "found nothing",
            credentials_hint(facts.profile),
        )
    details = {
        "source": found.method,
        "expiresAt": found.expiry.isoformat() if found.expiry else None,
    }
    if found.expiry is None:
        return ok(f"from {found.source}; they do not expire", **details)
    left = found.expiry - datetime.fromtimestamp(facts.clock(), UTC)
    when = found.expiry.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if left <= timedelta(0):
        return failed(
            f"from {found.source}; expired at {when}",
            "expired credentials are refused by every AWS call",
            credentials_hint(facts.profile),
            **details,
        )
    if left < EXPIRY_WARN:
        return warning(
            f"from {found.source}; expire at {when} ({int(left.total_seconds() // 60)} min)",
            "a session that has to resume or be terminated after that will fail",
            credentials_hint(facts.profile),
            **details,
        )
    return ok(f"from {found.source}; expire at {when}", **details)


def check_identity(facts: Facts) -> Finding:
    ident = facts.identity()
    return ok(f"{ident.arn} (account {ident.account})", arn=ident.arn, account=ident.account)


def check_clock(facts: Facts) -> Finding:
    ident = facts.identity()
    if ident.server_time is None:
        return skipped("AWS's answer carried no Date header to compare with")
    skew = ident.local_time - ident.server_time
    seconds = int(skew.total_seconds())
    words = f"{abs(seconds)} s {'ahead of' if seconds > 0 else 'behind'} AWS"
    fix = "synchronise the clock with NTP (`sudo timedatectl set-ntp true`, or chrony)"
    if abs(skew) >= SKEW_FAIL:
        return failed(
            f"this machine's clock is {words}",
            "AWS refuses requests signed more than 5 minutes off its clock",
            fix,
            skewSeconds=seconds,
        )
    if abs(skew) >= SKEW_WARN:
        return warning(
            f"this machine's clock is {words}",
            "a few more minutes and AWS will refuse its signatures",
            fix,
            skewSeconds=seconds,
        )
    return ok(f"within {SKEW_WARN.seconds} s of AWS ({seconds:+d} s)", skewSeconds=seconds)


def check_proxy(facts: Facts) -> Finding:
    env = facts.request.environ
    found = {name: env[name] for name in PROXY_VARIABLES if env.get(name)}
    if not found:
        return ok("no proxy variables set: connections go direct", variables={})
    shown = {
        name: value if name.lower() == "no_proxy" else redact(value)
        for name, value in found.items()
    }
    for name, value in found.items():
        if (
            name.lower() != "no_proxy"
            and not urlsplit(value if "://" in value else f"http://{value}").hostname
        ):
            return failed(
                f"{name} is set but names no proxy host",
                "botocore and the data channel cannot use it",
                f"fix or unset {name}",
                variables=shown,
            )
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    return ok(
        f"{text} (AWS APIs and the data channel use them; loopback goes direct)", variables=shown
    )


def custom_endpoint(facts: Facts) -> str | None:
    """The endpoint URL ECS is called at when it is not AWS's (the sandbox, an emulator),
    from --endpoint-url, AWS_ENDPOINT_URL(_ECS) or the profile; None for AWS's own."""
    if facts.request.endpoint_url:
        return facts.request.endpoint_url
    url = str(facts.clients.ecs.meta.endpoint_url)
    host = urlsplit(url).hostname or ""
    return None if host.endswith((".amazonaws.com", ".amazonaws.com.cn")) else url


def ssmmessages_endpoint(facts: Facts) -> tuple[str, int, bool]:
    """(host, port, tls) of the data channel's service: the regional ssmmessages endpoint,
    or with an endpoint URL of its own (the sandbox) that endpoint."""
    custom = custom_endpoint(facts)
    if custom:
        parts = urlsplit(custom)
        tls = parts.scheme == "https"
        return parts.hostname or "", parts.port or (443 if tls else 80), tls
    region = facts.region()
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"ssmmessages.{region}.{suffix}", 443, True


def check_ssmmessages(facts: Facts) -> Finding:
    host, port, tls = ssmmessages_endpoint(facts)
    result = probe(host, port, tls=tls, environ=facts.request.environ)
    sandbox = facts.request.sandbox or host.startswith("127.")
    what = f"the sandbox ({host}:{port})" if sandbox else f"{host}:{port}"
    how = ("TCP and TLS" if tls else "TCP") + (
        f" via {result.via_proxy}" if result.via_proxy else ""
    )
    details = {"host": host, "port": port, "tls": tls, "proxy": result.via_proxy}
    if result.error is None:
        return ok(f"{what} reachable by {how}", **details)
    fix = {
        "dns": f"check DNS for {host} on this machine",
        "tcp": f"allow outbound TCP {port} to {host} (firewall, security software)",
        "proxy": f"check HTTPS_PROXY/NO_PROXY and that the proxy allows CONNECT to {host}:{port}",
        "tls": "a proxy may be intercepting TLS: point SSL_CERT_FILE at its CA bundle",
    }[result.step or "tcp"]
    if custom_endpoint(facts) and not tls:
        fix = f"check that the endpoint {custom_endpoint(facts)} (the sandbox?) is running"
    return failed(
        f"{what} not reachable: {result.step} failed",
        result.error or "",
        fix,
        step=result.step,
        **details,
    )


def check_plugin(facts: Facts) -> Finding:
    if facts.request.transport != "plugin":
        return skipped(
            f"--transport {facts.request.transport} runs the data channel in Python; "
            "only --transport plugin needs session-manager-plugin"
        )
    from ecs_exec.errors import PluginError
    from ecs_exec.transports.official_plugin import find_plugin

    try:
        path = find_plugin()
    except PluginError as exc:
        return failed("session-manager-plugin not found", str(exc), exc.hint)
    try:
        answer = subprocess.run(
            [path, "--version"], capture_output=True, timeout=10, check=False, text=True
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed(f"{path} does not run", str(exc), "reinstall session-manager-plugin")
    version = answer.stdout.strip().splitlines()[-1] if answer.stdout.strip() else ""
    if answer.returncode != 0 or not version:
        return failed(
            f"{path} --version failed (exit {answer.returncode})",
            answer.stderr.strip()[:200] or "it printed no version",
            "reinstall session-manager-plugin",
            path=path,
        )
    return ok(f"{path}, version {version}", path=path, version=version)


CHECKS = (
    Check("local.region", Group.LOCAL, "Region", check_region),
    Check("local.credentials", Group.LOCAL, "Credentials", check_credentials),
    Check(
        "local.identity",
        Group.LOCAL,
        "Caller identity",
        check_identity,
        needs=("local.region", "local.credentials"),
    ),
    Check("local.clock-skew", Group.LOCAL, "Clock skew", check_clock, needs=("local.identity",)),
    Check("local.proxy", Group.LOCAL, "Proxy settings", check_proxy),
    Check(
        "local.ssmmessages",
        Group.LOCAL,
        "ssmmessages endpoint",
        check_ssmmessages,
        needs=("local.region",),
    ),
    Check("local.plugin", Group.LOCAL, "session-manager-plugin", check_plugin),
)

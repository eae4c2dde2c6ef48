"""IAM policy evaluation for the sandbox's ``iam:SimulatePrincipalPolicy``; pure.

What it evaluates, as IAM does for identity-based policies in one account: ``Allow`` and
``Deny`` statements with ``Action``/``NotAction`` and ``Resource``/``NotResource`` (``*`` and
``?`` wildcards; actions case-insensitive, resources case-sensitive), an explicit deny beats
any allow, and nothing allowed is an implicit deny. Conditions support the string, ARN, Bool,
Numeric and Null operators, the ``IfExists`` suffix and the ``ForAnyValue:``/``ForAllValues:``
set prefixes; a condition on a key the request context lacks does not match and the key is
reported as missing, as the simulator reports ``MissingContextValues``. Not modelled: resource
policies, permission boundaries, SCPs, policy variables and the date/IP operators (a statement
using one never matches, so it cannot grant anything by mistake).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
#: The most restrictive first, for aggregating several resources.
RESTRICTIVENESS: tuple[Decision, ...] = ("explicitDeny", "implicitDeny", "allowed")


@dataclass(frozen=True)
class SourcePolicy:
    """One policy taking part in an evaluation."""

    policy_id: str  #: inline policy name or managed policy name, as the simulator reports
    policy_type: str  #: user | role | aws-managed | user-managed | none
    document: Mapping[str, Any]


@dataclass(frozen=True)
class MatchedStatement:
    policy_id: str
    policy_type: str
    index: int  #: position of the statement in its policy


@dataclass
class Evaluation:
    decision: Decision
    matched: list[MatchedStatement] = field(default_factory=list)
    missing_context: list[str] = field(default_factory=list)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


def action_matches(pattern: str, action: str) -> bool:
    """``ecs:Describe*`` matches ``ecs:DescribeTasks``; case-insensitive like IAM."""
    return _glob(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    """``arn:aws:ecs:*:*:task/demo/*`` matches a task ARN; ``*`` matches everything."""
    return _glob(pattern, resource, ignore_case=False)


_Test = Callable[[str, str], bool]


def _string_test(operator: str) -> tuple[_Test, bool] | None:
    def equals(a: str, b: str) -> bool:
        return a == b

    def equals_ic(a: str, b: str) -> bool:
        return a.lower() == b.lower()

    def like(a: str, b: str) -> bool:
        return _glob(b, a, ignore_case=False)

    def number(op: str) -> _Test:
        def test(a: str, b: str) -> bool:
            try:
                x, y = float(a), float(b)
            except ValueError:
                return False
            return {
                "Equals": x == y,
                "NotEquals": x != y,
                "LessThan": x < y,
                "LessThanEquals": x <= y,
                "GreaterThan": x > y,
                "GreaterThanEquals": x >= y,
            }[op]

        return test

    def boolean(a: str, b: str) -> bool:
        return a.lower() == str(b).lower()

    tests: dict[str, tuple[_Test, bool]] = {
        "StringEquals": (equals, False),
        "StringNotEquals": (equals, True),
        "StringEqualsIgnoreCase": (equals_ic, False),
        "StringNotEqualsIgnoreCase": (equals_ic, True),
        "StringLike": (like, False),
        "StringNotLike": (like, True),
        "ArnEquals": (like, False),
        "ArnLike": (like, False),
        "ArnNotEquals": (like, True),
        "ArnNotLike": (like, True),
        "Bool": (boolean, False),
    }
    for op in ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan"):
        tests[f"Numeric{op}"] = (number(op), False)
    tests["NumericGreaterThanEquals"] = (number("GreaterThanEquals"), False)
    return tests.get(operator)


def _condition_holds(
    operator: str, key: str, wanted: list[str], context: Mapping[str, list[str]], missing: set[str]
) -> bool:
    set_prefix, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    values = context.get(key.lower())
    if operator == "Null":
        # {"Null": {"k": "true"}} holds when k is absent.
        return any(str(w).lower() == str(values is None).lower() for w in wanted)
    if values is None:
        if not if_exists:
            missing.add(key)
        return if_exists
    found = _string_test(operator)
    if found is None:
        return False  # an operator the sandbox does not model never matches
    test, negated = found

    def one(value: str) -> bool:
        hit = any(test(value, str(w)) for w in wanted)
        return not hit if negated else hit

    if set_prefix == "ForAllValues":
        return all(one(v) for v in values)
    # ForAnyValue and single-valued keys: any value that satisfies the condition.
    return any(one(v) for v in values)


def _statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, list[str]],
    missing: set[str],
) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(resource_matches(p, resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(resource_matches(p, resource) for p in _as_list(statement["NotResource"])):
            return False
    else:
        return False
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, Mapping):
        return False
    ok = True
    for operator, pairs in conditions.items():
        if not isinstance(pairs, Mapping):
            return False
        for key, wanted in pairs.items():
            # Evaluate every pair (no short cut) so each missing key is reported.
            held = _condition_holds(str(operator), str(key), _as_list(wanted), context, missing)
            ok = ok and held
    return ok


def evaluate(
    policies: Iterable[SourcePolicy],
    action: str,
    resource: str = "*",
    context: Mapping[str, Sequence[str]] | None = None,
) -> Evaluation:
    """The decision of ``policies`` for one action on one resource.

    Args:
        policies: every identity policy of the principal (inline and attached).
        action: ``service:Operation``.
        resource: an ARN or ``*``.
        context: condition keys (any case) to their values.
    """
    ctx = {k.lower(): [str(v) for v in values] for k, values in (context or {}).items()}
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    missing: set[str] = set()
    for policy in policies:
        for index, statement in enumerate(statements(policy.document)):
            if not _statement_applies(statement, action, resource, ctx, missing):
                continue
            matched = MatchedStatement(policy.policy_id, policy.policy_type, index)
            if statement.get("Effect") == "Deny":
                denies.append(matched)
            elif statement.get("Effect") == "Allow":
                allows.append(matched)
    if denies:
        # The deny statements are the only ones the simulator lists for a deny.
        return Evaluation("explicitDeny", denies, sorted(missing))
    if allows:
        return Evaluation("allowed", allows, sorted(missing))
    return Evaluation("implicitDeny", [], sorted(missing))


def most_restrictive(decisions: Iterable[Decision]) -> Decision:
    found = set(decisions)
    return next((d for d in RESTRICTIVENESS if d in found), "implicitDeny")

"""The sandbox's AWS error response, shared by the handler modules (``api``, ``tasks``)."""

from __future__ import annotations

from typing import Any

Body = dict[str, Any]
Result = tuple[int, Body]


class ApiError(Exception):
    """An AWS error response."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status

    def response(self) -> Result:
        return self.status, {"__type": self.code, "message": self.message}


def invalid(message: str) -> ApiError:
    """ECS's ``InvalidParameterException``."""
    return ApiError("InvalidParameterException", message)

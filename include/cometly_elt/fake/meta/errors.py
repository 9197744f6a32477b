"""Answers in Meta's error envelope, with the codes the client classifies (docs/meta-api.md §5)."""

from __future__ import annotations

import secrets
from typing import Any

RATE_LIMIT_DOC = "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."


class GraphError(Exception):
    """An answer in Meta's error envelope."""

    def __init__(self, code: int, message: str, *, status: int = 400, subcode: int | None = None,
                 type_: str = "OAuthException", is_transient: bool | None = None,
                 user_title: str | None = None, user_msg: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.subcode = code, message, status, subcode
        self.type, self.is_transient, self.user_title, self.user_msg = type_, is_transient, user_title, user_msg
        self.headers = headers or {}

    def body(self) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        return {"error": error}


def invalid_parameter(message: str, subcode: int | None = None, user_title: str | None = None) -> GraphError:
    return GraphError(100, f"(#100) {message}", subcode=subcode, user_title=user_title)


def unsupported_get(object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing"
        " permissions, or does not support this operation. Please read the Graph API documentation at"
        " https://developers.facebook.com/docs/graph-api",
        subcode=33, type_="GraphMethodException",
    )


def nonexisting_field(name: str, node_type: str) -> GraphError:
    return invalid_parameter(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def reduce_data(code: int = 100) -> GraphError:
    if code == 1:
        return GraphError(1, "Please reduce the amount of data you're asking for, then retry your request",
                          status=500, is_transient=False)
    return invalid_parameter("Please reduce the amount of data you're asking for, then retry your request",
                             subcode=1487534, user_title="Too much data requested")


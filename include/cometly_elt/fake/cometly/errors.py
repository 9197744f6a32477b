"""Error answers as Laravel gives them: `{"message"}`, with an `errors` map on 422 (docs/cometly-api.md §2)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status)


async def route_not_found(request: Request, exc: HTTPException) -> Response:
    route = request.url.path.removeprefix(request.scope.get("root_path", "")).lstrip("/")
    if exc.status_code == 405:
        return JSONResponse({"message": f"The {request.method} method is not supported for route {route}."},
                            status_code=405)
    return JSONResponse({"message": f"The route {route} could not be found."}, status_code=exc.status_code)

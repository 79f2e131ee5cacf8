"""Input hygiene: text no supported database can store is refused with 422 before a route does any work.

PostgreSQL `text`/`varchar` cannot hold NUL (U+0000), and a string with an unpaired UTF-16 surrogate
(U+D800..U+DFFF, which a JSON `\\ud800` escape produces) cannot even be encoded as UTF-8. SQLite stores both,
so without this layer the same request is accepted on one database and fails with a 500 on the other (or,
worse, half-way through a job).

`reject_unsafe_input` is a dependency the app adds to every `/v1` router (see `app.create_app`): after the
API key is checked it looks at every path parameter, every query parameter (names and values) and every
string of a JSON body (object keys included, at any depth) and answers 422 naming each offending field, in
the same `{"detail": "<field>: <problem>"}` shape as any other validation error. Upload filenames are checked
by `longctx.api.uploads` while the multipart headers are parsed, before a byte is stored.
"""

from __future__ import annotations

import email.message
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from longctx.core.unstorable import text_problem

MAX_REPORTED = 10  # the 422 names at most this many offending fields
ERROR_TYPE = "unstorable_text"


def unsafe_strings(value: Any, loc: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(location, problem) for each unacceptable string in a decoded JSON value (keys included), in order."""
    stack: list[tuple[tuple, Any]] = [(loc, value)]
    while stack:  # iterative: nesting depth is the client's choice
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield where, problem
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = str(key)
                problem = text_problem(name)
                if problem:
                    name = repr(name)  # a location people can read
                    yield (*where, name), f"key {problem}"
                children.append(((*where, name), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(((*where, i), child) for i, child in reversed(list(enumerate(item))))


def _error(loc: tuple, problem: str) -> dict:
    # No "input": the offending value is never echoed back.
    return {"type": ERROR_TYPE, "loc": loc, "msg": problem, "input": None}


def _json_content(content_type: str | None) -> bool:
    """Whether FastAPI parses a body with this Content-Type as JSON (no header, application/json, +json)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _json_body(request: Request) -> Any:
    """The decoded JSON body of a route that takes one, or None. FastAPI has already read and parsed it by the
    time dependencies run (the body is cached on the request), so this neither re-reads the stream nor
    touches streamed uploads (routes without a body parameter)."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or not _json_content(request.headers.get("content-type")):
        return None
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None  # FastAPI answers malformed JSON itself


async def reject_unsafe_input(request: Request) -> None:
    """422 when a path parameter, query parameter or JSON body string holds text that cannot be stored."""
    errors: list[dict] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)):
            errors.append(_error(("path", name), problem))
    for name, value in request.query_params.multi_items():
        if problem := text_problem(name):
            errors.append(_error(("query", repr(name)), f"parameter name {problem}"))
        elif problem := text_problem(value):
            errors.append(_error(("query", name), problem))
    body = await _json_body(request)
    if body is not None:
        errors.extend(_error(loc, problem) for loc, problem in unsafe_strings(body, ("body",)))
    if errors:
        raise RequestValidationError(errors[:MAX_REPORTED])

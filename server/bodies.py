"""Reading a request body: size first, then JSON, then the protocol model, whole.

The body is read with a cap *before* anything parses it (a ``Content-Length``
over the cap is refused without reading), so a huge or endless upload costs
the server at most ``max_bytes``. Validation errors become
``ApiError(422, "ratings.3.rating: …", field="ratings.3.rating")``.
"""

from __future__ import annotations

import re
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from .errors import ApiError

Model = TypeVar("Model", bound=BaseModel)

#: Schemas of request bodies, for the OpenAPI document (merged in by ``app.py``).
REQUEST_SCHEMAS: dict[str, dict] = {}


def json_body(model: type[BaseModel], description: str) -> dict:
    """``openapi_extra`` for a route that reads ``model`` itself with :func:`read_model`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    REQUEST_SCHEMAS.update(schema.pop("$defs", {}))
    REQUEST_SCHEMAS[model.__name__] = schema
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


async def read_model(request: Request, model: type[Model], *, max_bytes: int,
                     max_items: dict[str, int] | None = None) -> Model:
    """The request body validated as ``model``; raises :class:`ApiError` (413, 415 or 422).

    ``max_items`` maps a list field to its cap: exceeding it is "too large" (413), not a bad value.
    """
    data = await read_body(request, max_bytes=max_bytes)
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise api_error(exc.errors(include_url=False), max_items or {}) from None


async def read_body(request: Request, *, max_bytes: int, media_type: str = "application/json") -> bytes:
    """The raw body (JSON, or ``media_type``), at most ``max_bytes`` read; raises :class:`ApiError` (400, 413 or 415)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != media_type:
        what = "JSON" if media_type == "application/json" else media_type.split("/")[-1].upper()
        raise ApiError(415, f"the body must be {what} (Content-Type: {media_type}), "
                            f"not {content_type or 'nothing'!r}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise ApiError(413, f"the body is {int(declared)} bytes; at most {max_bytes} are accepted "
                                "(send smaller batches)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"the body is over {max_bytes} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


_FIELD_IN_MESSAGE = re.compile(r"^([a-z_]+): ")


def error_words(error: dict) -> tuple[list[str], str]:
    """One pydantic error as (the field's path, plain words): a validator may name the field itself.

        >>> error_words({"loc": ("ratings", 3), "msg": "Value error, id: expected a UUID", "type": "value_error"})
        (['ratings', '3', 'id'], 'expected a UUID')
    """
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    named = _FIELD_IN_MESSAGE.match(message)
    if named:  # a validator that names the field itself ("id: expected a UUID …")
        loc.append(named.group(1))
        message = message[named.end():]
    return loc, message


def api_error(errors: list[dict], max_items: dict[str, int]) -> ApiError:
    """The 422 (or 413 for a list over its cap) for a body that failed validation, naming the first field.

    ``errors``: pydantic's ``ValidationError.errors()``.
    """
    first = errors[0]
    if first["type"] == "json_invalid":
        message = first["msg"]
        return ApiError(422, f"the body is not valid JSON: {first['ctx'].get('error', message)}"
                        if first.get("ctx") else f"the body is not valid JSON: {message}")
    if first["type"] == "model_type" and not first["loc"]:
        return ApiError(422, "the body must be a JSON object")
    loc, message = error_words(first)
    field = ".".join(loc) or None
    if first["type"] == "too_long" and field in max_items:
        return ApiError(413, f"{field}: at most {max_items[field]} per request; send smaller batches", field=field)
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ApiError(422, f"{field}: {message}{more}" if field else f"{message}{more}", field=field)

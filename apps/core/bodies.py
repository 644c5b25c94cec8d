"""Reading request bodies: size limits applied after decompression, so a gzip bomb costs nothing."""

from __future__ import annotations

import zlib
from typing import Any

from django.http import HttpRequest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from apps.core import fastjson
from apps.core.validation import json_problem


class BodyTooLarge(Exception):
    pass


class BodyUnreadable(Exception):
    pass


def body_bytes(request: HttpRequest, *, limit: int) -> bytes:
    """The decompressed body, at most `limit` bytes (BodyTooLarge above), gzip or deflate per Content-Encoding."""
    declared = request.META.get("CONTENT_LENGTH")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if not encoding or encoding == "identity":
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge()
        raw = request.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge()
        return raw
    if encoding not in ("gzip", "deflate"):
        raise BodyUnreadable(f"unsupported Content-Encoding {encoding!r}")
    # The compressed body is bounded too: it cannot be larger than what it decompresses to, plus headers.
    compressed = request.read(limit + 1024)
    if request.read(1):
        raise BodyTooLarge()
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise BodyUnreadable(f"the body is not valid {encoding}") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise BodyTooLarge()
    return data


def json_loads(data: bytes) -> Any:
    """Parses JSON, raising BodyUnreadable with the reason; also refuses what json.loads lets through but the
    database cannot store (NaN, Infinity, NUL characters, lone surrogates) and documents nested deeper than 64
    levels (spec 7), so that such a body is a 400 and never a 500 at commit time or in the pipeline."""
    try:
        value, may_have_problem = fastjson.parse(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BodyUnreadable(f"the body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise BodyUnreadable("the body is not valid JSON: nested too deeply") from None
    problem = json_problem(value) if may_have_problem else None
    if problem:
        raise BodyUnreadable(f"the body is not valid JSON: {problem}")
    return value


def is_json_content_type(request: HttpRequest, *, also_text_plain: bool = False) -> bool:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if not content_type:
        return True  # many server-side clients send none; the body must still parse as JSON
    if content_type == "application/json" or content_type.endswith("+json"):
        return True
    return also_text_plain and content_type == "text/plain"


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with the ingestion routes' rules (json_loads): a body the database cannot store (NUL,
    lone surrogates, NaN) is a 400 on the PUT routes too, never a 500 at write time."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return json_loads(raw)
        except BodyUnreadable as exc:
            # The error handler says "The body is not valid JSON:" itself.
            raise ParseError(str(exc).removeprefix("the body is not valid JSON: ")) from None

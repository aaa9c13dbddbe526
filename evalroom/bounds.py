"""The bounds every JSON input must fit before anything else reads it.

A WebSocket frame, an HTTP body and a command body are all JSON from strangers. Before a
schema, the database, a signature check or canonicalization sees them, they are held to
I-JSON (RFC 7493) made concrete, so no later step can fail on a value it cannot represent:

- UTF-8 text; no NaN or Infinity; no lone surrogate; no object with a repeated key.
- Nesting at most ``MAX_DEPTH`` levels, checked on the raw text before decoding (Python's
  decoder recurses, so a deep document must never reach it).
- Numbers, integers or not, of magnitude at most ``MAX_SAFE_INTEGER`` (2^53 - 1): the range
  an IEEE 754 double holds exactly and the only one canonical JSON (RFC 8785) serializes.
- Strings at most ``MAX_STRING`` characters, keys at most ``MAX_KEY``, no NUL (U+0000:
  PostgreSQL's text cannot hold it) in either.
- At most ``MAX_KEYS`` members per object and ``MAX_ITEMS`` items per array.

A refusal says which bound and where: ``malformed`` when the text is not I-JSON,
``too_large`` for a size bound, ``invalid`` for a value out of range. Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from evalroom.errors import Refusal

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
MAX_STRING = 16_384
MAX_KEY = 128
MAX_KEYS = 1_024
MAX_ITEMS = 4_096

# A JSON string token. Inside one, no byte or character equals '"' or '\' unescaped, so what
# remains once strings are removed is the document's structure.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DIGITS = len(str(MAX_SAFE_INTEGER)) + 1  # a sign and 16 digits


def decode_json(data: str | bytes) -> Any:
    """Decode one JSON document held to the bounds above; raise ``Refusal`` otherwise."""
    value = parse_json(data)
    check_json_bounds(value)
    return value


def parse_json(data: str | bytes) -> Any:
    """Decode I-JSON text whose nesting the decoder can take: the first half of
    ``decode_json``. The value may still be out of bounds (``check_json_bounds``); a number
    too long to convert cheaply comes back as infinity, which that check refuses."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal("malformed", "not UTF-8 text") from None
    check_nesting(data)
    try:
        return json.loads(
            data,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_constant=_constant,
        )
    except ValueError as exc:  # JSONDecodeError: the text is not JSON
        raise Refusal("malformed", str(exc)) from None


def check_nesting(text: str) -> None:
    """Refuse text whose brackets nest deeper than the decoder may safely recurse.

    Each pass removes every innermost ``[]`` and ``{}`` pair, so a document of depth d
    empties in at most d passes (fewer when kinds alternate: ``check_json_bounds`` counts
    exactly afterwards). Every pass runs in C over the bracket skeleton."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_DEPTH):
        shorter = skeleton.replace("[]", "").replace("{}", "")
        if not shorter:
            return
        if len(shorter) == len(skeleton):
            raise Refusal("malformed", "brackets do not balance")
        skeleton = shorter
    raise Refusal("too_large", f"nested deeper than {MAX_DEPTH} levels")


def check_json_bounds(value: Any, where: str = "") -> None:
    """Hold an already decoded value (or one built in code) to the bounds above. A refusal's
    detail starts with the path to the value out of bounds (``body.config.x``)."""
    try:
        _walk(value, 0)
    except _OutOfBounds as exc:
        path = (where + "".join(reversed(exc.path))).lstrip(".") or "value"
        raise Refusal(exc.code, f"{path[:200]}: {exc.reason}") from None


class _OutOfBounds(Exception):
    def __init__(self, code: str, reason: str) -> None:
        self.code, self.reason = code, reason
        self.path: list[str] = []


def _walk(item: Any, depth: int) -> None:
    kind = type(item)
    if kind is dict or kind is list or kind is tuple:
        _walk_container(item, depth)
    else:
        _check_scalar(item)


def _walk_container(item: dict[str, Any] | list[Any] | tuple[Any, ...], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise _OutOfBounds("too_large", f"nested deeper than {MAX_DEPTH} levels")
    if type(item) is dict:
        if len(item) > MAX_KEYS:
            raise _OutOfBounds("too_large", f"more than {MAX_KEYS} keys")
        members: Any = item.items()
    else:
        if len(item) > MAX_ITEMS:
            raise _OutOfBounds("too_large", f"more than {MAX_ITEMS} items")
        members = enumerate(item)
    is_dict = type(item) is dict
    for key, member in members:
        try:
            if is_dict:
                if type(key) is not str:
                    raise _OutOfBounds("invalid", "keys are strings")
                if len(key) > MAX_KEY or "\x00" in key or not key.isascii():
                    _check_text(key, MAX_KEY)
            kind = type(member)
            if kind is str:  # the common cases inline: a call per scalar doubles the cost
                if len(member) > MAX_STRING or "\x00" in member or not member.isascii():
                    _check_text(member, MAX_STRING)
            elif kind is int:
                if not -MAX_SAFE_INTEGER <= member <= MAX_SAFE_INTEGER:
                    _check_scalar(member)
            elif kind is dict or kind is list:
                _walk_container(member, depth + 1)
            elif member is not None and kind is not bool:
                _walk(member, depth + 1)
        except _OutOfBounds as exc:
            exc.path.append(f".{key}" if is_dict else f"[{key}]")
            raise


def _check_scalar(item: Any) -> None:
    kind = type(item)
    if kind is str:
        _check_text(item, MAX_STRING)
    elif item is None or kind is bool:
        return
    elif kind is int or kind is float:
        if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:  # NaN fails this too
            raise _OutOfBounds("invalid", f"numbers are limited to ±{MAX_SAFE_INTEGER} (2^53 - 1)")
    elif isinstance(item, bool | int | float | str | dict | list | tuple):
        _walk(_PLAIN[next(t for t in _PLAIN if isinstance(item, t))](item), 0)  # enums
    else:
        raise _OutOfBounds("invalid", f"not a JSON value ({kind.__name__})")


_PLAIN: dict[type[Any], Any] = {bool: bool, int: int, float: float, str: str, dict: dict}
_PLAIN.update({list: list, tuple: tuple})


def _check_text(text: str, limit: int) -> None:
    if len(text) > limit:
        raise _OutOfBounds("too_large", f"longer than {limit} characters")
    if "\x00" in text:
        raise _OutOfBounds("invalid", "contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _OutOfBounds("malformed", "contains a lone surrogate") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise Refusal("malformed", "an object repeats a key")
    return value


def _int(literal: str) -> int | float:
    # Never hand a thousand-digit literal to int(): too long is out of bounds anyway.
    return int(literal) if len(literal) <= _DIGITS else math.inf


def _constant(literal: str) -> float:
    raise Refusal("malformed", f"{literal} is not JSON")

"""``evalroom.bounds``: each bound at its edge, pure (no node, no database)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crypto.canonical import canonical_json
from evalroom.bounds import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_KEY,
    MAX_KEYS,
    MAX_SAFE_INTEGER,
    MAX_STRING,
    check_json_bounds,
    decode_json,
)
from evalroom.errors import Refusal
from evalroom.hub.protocol import parse_client_message, ref_of_prefix
from evalroom.services.registry import REGISTRY


def _refusal(data: str | bytes) -> tuple[str, str]:
    with pytest.raises(Refusal) as refused:
        decode_json(data)
    return refused.value.code, refused.value.detail


def _nested(depth: int) -> Any:
    value: Any = 0
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def test_everything_at_its_bound_is_accepted_and_canonicalizes() -> None:
    at_bounds = {
        "max": MAX_SAFE_INTEGER,
        "min": -MAX_SAFE_INTEGER,
        "float": 9007199254740991.0,
        "text": "评" * MAX_STRING,
        "k" * MAX_KEY: [0] * MAX_ITEMS,
        "many": {f"k{i}": i for i in range(MAX_KEYS)},
        "deep": _nested(MAX_DEPTH - 1),  # the outer object is the first level
        "odd": "\u200b\ufeff\U0001f600\u202e",
    }
    text = json.dumps(at_bounds, ensure_ascii=False)
    assert decode_json(text) == at_bounds
    assert decode_json(text.encode()) == at_bounds
    canonical_json(at_bounds)  # canonical JSON takes whatever the bounds let through


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (str(MAX_SAFE_INTEGER + 1), "invalid"),
        (str(-MAX_SAFE_INTEGER - 1), "invalid"),
        (str(2**64), "invalid"),
        ("9" * 5000, "invalid"),  # never handed to int(): Python refuses past 4300 digits
        ("9007199254740992.0", "invalid"),
        ("1e400", "invalid"),
        ("NaN", "malformed"),
        ("-Infinity", "malformed"),
        ('"a\\u0000b"', "invalid"),
        ('{"a\\u0000": 1}', "invalid"),
        ('"\\ud800"', "malformed"),
        ('"\\udc00\\ud800"', "malformed"),
        ('{"a": 1, "a": 1}', "malformed"),
        ('"' + "x" * (MAX_STRING + 1) + '"', "too_large"),
        ('{"' + "k" * (MAX_KEY + 1) + '": 1}', "too_large"),
        (json.dumps([0] * (MAX_ITEMS + 1)), "too_large"),
        (json.dumps({f"k{i}": 0 for i in range(MAX_KEYS + 1)}), "too_large"),
        (json.dumps(_nested(MAX_DEPTH + 1)), "too_large"),
        ("[" * 5000 + "]" * 5000, "too_large"),
        ("[" * 100_000, "malformed"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "too_large"),
        ("{not json", "malformed"),
        ("", "malformed"),
    ],
)
def test_out_of_bounds_is_refused_with_its_code(text: str, code: str) -> None:
    assert _refusal(text)[0] == code


def test_bytes_must_be_utf8() -> None:
    assert _refusal(b'"\xff"') == ("malformed", "not UTF-8 text")
    assert _refusal('"x"'.encode("utf-16"))[0] == "malformed"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"text": "[" * 5000 + "{" * 5000, "k[{": ["]]", '\\"[[']})
    assert decode_json(text) == json.loads(text)


def test_a_refusal_names_the_path_to_the_value() -> None:
    code, detail = _refusal('{"body": {"config": {"forms": [1, {"n": 1e999}]}}}')
    assert code == "invalid" and detail.startswith("body.config.forms[1].n:")


def test_values_built_in_code_are_held_to_the_same_bounds() -> None:
    for value in ({"a": object()}, {"a": b"bytes"}, {1: "int key"}, {"a": float("nan")}):
        with pytest.raises(Refusal) as refused:
            check_json_bounds(value)
        assert refused.value.code == "invalid"
    check_json_bounds({"tuple": ("a", 1), "none": None, "bool": True})


def test_every_command_body_is_bounded_by_its_schema_even_in_free_form_fields() -> None:
    create = REGISTRY["tender.create"].body
    for config in ({"x": 2**64}, {"x": "\x00"}, {"x": _nested(MAX_DEPTH)}):
        with pytest.raises(Refusal):
            create.model_validate({"title": "t", "config": config})
    create.model_validate({"title": "t", "config": {"x": MAX_SAFE_INTEGER}})


def test_a_frame_is_bounded_before_its_schema() -> None:
    with pytest.raises(Refusal) as refused:
        parse_client_message('{"t": "hb", "x": "\\u0000"}')
    assert (refused.value.code, refused.value.detail) == ("invalid", "x: contains a NUL character")


@pytest.mark.parametrize(
    ("frame", "ref"),
    [
        ('{"t":"cmd","v":1,"id":"c-1","body":{}}', "c-1"),
        ('{ "t" : "cmd" , "id" : "c-2" }', "c-2"),
        ('{"t":"cmd","body":{"id":"inner"},"id":"outer"}', None),  # never the body's id
        ('{"t":"cmd","id":"has space"}', None),
        ("[[[[", None),
    ],
)
def test_the_id_of_a_frame_too_large_to_decode_is_read_from_its_start(
    frame: str, ref: str | None
) -> None:
    assert ref_of_prefix(frame + " " * 100_000) == ref

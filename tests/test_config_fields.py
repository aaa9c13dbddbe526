"""A tender's rules refused by the field at fault (issue 15: errors that name the field and say
what to do): the pure parser names the path of the input inside ``config``, and the node's
refusal carries it as ``details.field`` with a sentence naming it; nothing is created."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
import pytest

from clients.sdk import ClientError
from crypto import age
from evalroom.domain.rules import RuleError
from evalroom.domain.tender_config import TenderConfig
from tests.support import InProcessNode, add_participant


def _config(keyholders: list[str]) -> dict[str, Any]:
    _identity, recipient = age.generate_identity()
    return {
        "sections": [{"id": "S1", "name": "第一标段", "control_price": {"limit": "1040000.00"}}],
        "envelopes": ["single"],
        "opening_at": "2030-01-15T01:30:00+00:00",
        "min_bids": 3,
        "few_valid": "continue",
        "failure_rule": "committee",
        "opening_recipient": recipient,
        "threshold": {"k": 2, "n": 3},
        "keyholders": keyholders,
        "forms": {"single": [{"name": "price", "type": "decimal", "required": True}]},
        "method": {
            "kind": "comprehensive",
            "criteria": [
                {
                    "id": "quality",
                    "name": "质量保证",
                    "kind": "expert",
                    "max_points": "2",
                    "scale": {"low": "1", "high": "2"},
                },
                {"id": "price", "name": "投标报价", "kind": "price", "max_points": "70"},
            ],
            "price_rule": {
                "base": {"trim": None, "coefficient": "1"},
                "above": [{"up_to": None, "points_per_percent": "1"}],
                "below": [{"up_to": None, "points_per_percent": "0.5"}],
            },
        },
    }


BAD = [
    (("method", "criteria", 1, "max_points"), "0", "method.criteria[1].max_points"),
    (("method", "criteria", 0, "max_points"), "3", "method.criteria[0].max_points"),
    (("method", "criteria", 0, "scale", "low"), "x", "method.criteria[0].scale.low"),
    (("method", "price_rule", "base", "coefficient"), "1.2", "method.price_rule.base.coefficient"),
    (("sections", 0, "control_price", "limit"), "-1", "sections[0].control_price.limit"),
    (("opening_at",), "2030-01-15 09:30", "opening_at"),
    (("threshold", "k"), 4, "threshold.k"),
    (("few_valid",), "maybe", "few_valid"),
]


def _set(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(config)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return bad


@pytest.mark.parametrize(("path", "value", "field"), BAD)
def test_a_bad_rule_is_refused_naming_its_field(
    path: tuple[Any, ...], value: Any, field: str
) -> None:
    with pytest.raises(RuleError) as refusal:
        TenderConfig.from_dict(_set(_config(["a", "b", "c"]), path, value))
    assert refusal.value.code == "invalid_config"
    assert refusal.value.field == field
    assert field in refusal.value.message


def test_a_good_config_carries_its_method() -> None:
    config = TenderConfig.from_dict(_config(["a", "b", "c"]))
    assert config.method is not None and config.method.criteria[0].scale is not None


async def test_the_node_refuses_a_bad_tender_naming_the_field_and_creates_nothing(
    node: InProcessNode, pool: asyncpg.Pool
) -> None:
    agency = await add_participant(pool, "agency", roles=[("agency", "platform")])
    keyholders = [(await add_participant(pool, f"kh{i}")).user_id for i in range(3)]
    client = await agency.client(node.url)
    english = await agency.client(node.url, lang="en")
    try:
        bad = _set(_config(keyholders), ("method", "criteria", 1, "max_points"), "0")
        for c, words in ((client, "请修改字段"), (english, "Correct the field")):
            with pytest.raises(ClientError) as refusal:
                await c.command("tender:CF1", "tender.create", {"title": "t", "config": bad})
            assert refusal.value.code == "invalid_config"
            assert refusal.value.field == "config.method.criteria[1].max_points"
            assert words in refusal.value.message
            assert "config.method.criteria[1].max_points" in refusal.value.message
        # A keyholder who is not registered: the refusal names which of the three.
        unknown = _config([*keyholders[:2], "nobody-registered"])
        with pytest.raises(ClientError) as refusal:
            await client.command("tender:CF1", "tender.create", {"title": "t", "config": unknown})
        assert refusal.value.code == "unknown_user"
        assert refusal.value.field == "config.keyholders[2]"
        assert await pool.fetchval("SELECT count(*) FROM streams WHERE name = 'tender:CF1'") == 0
        # The same rules, corrected, are accepted and published with the method.
        await client.command(
            "tender:CF1", "tender.create", {"title": "t", "config": _config(keyholders)}
        )
        state = await pool.fetchval("SELECT state FROM streams WHERE name = 'tender:CF1'")
        assert state["config"]["method"]["criteria"][0]["scale"] == {"low": "1", "high": "2"}
    finally:
        await client.close()
        await english.close()

"""One ``red_flags`` object holds every family's thresholds: the tender's at its top level,
the history's and the experts' under their own keys; the tender's settings override the
platform's key by key, within a family too; anything not understood is refused naming it."""

from __future__ import annotations

import pytest

from evalroom.domain.redflags.experts import ExpertThresholds
from evalroom.domain.redflags.families import merge_settings, read_settings
from evalroom.domain.redflags.history import HistoryThresholds
from evalroom.domain.redflags.thresholds import Thresholds
from evalroom.domain.rules import RuleError


def test_no_settings_are_every_familys_defaults() -> None:
    settings = read_settings(None)
    assert settings.tender == Thresholds()
    assert settings.history == HistoryThresholds()
    assert settings.experts == ExpertThresholds()


def test_each_family_reads_its_own_key() -> None:
    settings = read_settings({"history": {"fence_k": 3.0}, "experts": {"min_sessions": 9}})
    assert settings.history.fence_k == 3.0 and settings.experts.min_sessions == 9
    assert settings.tender == Thresholds()


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"history": {"no_such": 1}}, "no_such"),
        ({"experts": {"min_sessions": "many"}}, "min_sessions"),
        ({"history": [1]}, "history"),
        ("not an object", "red_flags"),
    ],
)
def test_what_a_family_does_not_understand_is_refused_naming_it(raw: object, named: str) -> None:
    with pytest.raises(RuleError) as caught:
        read_settings(raw)
    assert caught.value.code == "invalid_config" and named in caught.value.message


def test_the_tenders_settings_override_the_platforms_key_by_key_within_a_family() -> None:
    platform = {
        "history": {"fence_k": 2.0, "never_wins_min_bids": 7},
        "experts": {"min_sessions": 3},
    }
    tender = {"history": {"fence_k": 4.0}}
    merged = merge_settings(platform, tender)
    assert merged == {
        "history": {"fence_k": 4.0, "never_wins_min_bids": 7},
        "experts": {"min_sessions": 3},
    }
    assert read_settings(merged).history.never_wins_min_bids == 7

"""One message catalog serves the CLIs (clients/messages.py), and the browser's catalog
(clients/web/js/i18n.js) misses none of the concepts both show.

Error codes: neither the CLIs nor the pages keep a sentence per code. Both print the
server's own sentence (evalroom/errors.CATALOG, in the language asked for) with the code —
the CLIs through ``Out.refusal``, the pages through their ``error`` text, which must carry
``{message}`` and ``{code}``. So every code needs its two sentences on the server, checked
here, and the pages' ``error`` text needs both placeholders in both languages.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

import pytest

from clients.cli_common import Out
from clients.messages import MESSAGES, _merged
from evalroom.errors import CATALOG as ERRORS

I18N = Path(__file__).resolve().parent.parent / "clients" / "web" / "js" / "i18n.js"


def _blocks(name: str) -> dict[str, set[str]]:
    """The keys of ``const <name> = { "zh-CN": {...}, en: {...} }`` in i18n.js, by language."""
    text = I18N.read_text("utf-8")
    body = text[text.index(f"const {name} = {{") :]
    body = body[: body.index("\n};")]
    langs: dict[str, set[str]] = {}
    current: str | None = None
    for line in body.splitlines()[1:]:
        opened = re.match(r'^  (?:"([^"]+)"|(\w+)): \{', line)
        if opened:
            current = opened.group(1) or opened.group(2)
            langs[current] = set()
            continue
        if current is None:
            continue
        # PHASES lists several entries on one line.
        for m in re.finditer(r'(?:^\s*|,\s*)(?:"([\w.-]+)"|([a-z_]\w*)):\s*(?=["`])', line):
            langs[current].add(m.group(1) or m.group(2))
    return langs


def test_every_cli_sentence_has_both_languages() -> None:
    for key, pair in MESSAGES.items():
        zh, en = pair
        assert zh and en, key
        fields_zh = {f for _, f, _, _ in Formatter().parse(zh) if f is not None}
        fields_en = {f for _, f, _, _ in Formatter().parse(en) if f is not None}
        assert fields_zh == fields_en, f"{key}: {fields_zh} != {fields_en}"


def test_a_key_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        _merged({"a": ("甲", "a")}, {"a": ("乙", "b")})


def test_every_cli_reads_the_one_catalog() -> None:
    fields = {"tender": "T", "section": "S", "envelope": "E", "seq": 1, "sha": "x", "path": "r"}
    assert Out("en").t("bidder.submitted", **fields).startswith("Submitted T section S")
    assert Out("zh-CN").t("expert.submitted").startswith("评分表已签名提交")
    assert Out("zh-CN").catalog is MESSAGES


def test_the_browser_and_the_cli_both_name_every_shared_concept() -> None:
    text, phases = _blocks("TEXT"), _blocks("PHASES")
    assert set(text) == {"zh-CN", "en"} and set(phases) == {"zh-CN", "en"}
    # The two languages of the browser have the same keys.
    assert text["zh-CN"] ^ text["en"] == set()
    assert phases["zh-CN"] ^ phases["en"] == set()
    # Every session phase the CLIs name, the pages name too.
    cli_phases = {k.removeprefix("phase.") for k in MESSAGES if k.startswith("phase.")}
    assert cli_phases and cli_phases - phases["en"] == set()
    # Every bid status of the opening.
    cli_status = {k for k in MESSAGES if k.startswith("status.")}
    assert cli_status and cli_status - text["en"] == set()


def test_every_error_code_has_a_sentence_the_pages_and_clis_show() -> None:
    for code, (zh, en, _retry, _attempt) in ERRORS.items():
        assert zh.strip() and en.strip(), code
    source = I18N.read_text("utf-8")
    shown = re.findall(r'^\s+"?error"?: "([^"]*)"', source, re.M)
    assert len(shown) == 2
    for sentence in shown:
        # The server's sentence is shown; its code is not appended to what people read.
        assert "{message}" in sentence and "{code}" not in sentence


def test_times_people_read_are_beijing_time_labelled_whatever_the_pcs_zone() -> None:
    stored = "2026-12-07T14:08:10+00:00"  # stored times stay UTC
    assert Out("zh-CN").when(stored) == "2026-12-07 22:08:10 北京时间"
    assert Out("en").when(stored) == "2026-12-07 22:08:10 Beijing time"
    assert Out("en").clock("2026-12-07T16:30:00-08:00") == "08:30:00 Beijing time"
    # The label is the browser's too (clients/web/js/ui.js ``beijing``).
    assert "tz.beijing" in _blocks("TEXT")["en"] and "tz.beijing" in MESSAGES


def test_every_code_the_server_refuses_with_has_its_two_sentences() -> None:
    """A code raised in the server's code (``RuleError("…")`` in the domain, ``Refusal("…")``
    in the adapters) without a catalog entry reaches people as a bare code."""
    root = Path(__file__).resolve().parent.parent / "evalroom"
    raised = {
        match.group(1)
        for path in root.rglob("*.py")
        for match in re.finditer(r'(?:RuleError|Refusal)\(\s*"([a-z_]+)"', path.read_text("utf-8"))
    }
    assert len(raised) > 100  # the scan finds them (a changed spelling would find none)
    assert sorted(raised - set(ERRORS)) == []
    for code in raised:
        zh, en, _retryable, _recorded = ERRORS[code]
        assert zh and en and zh != en

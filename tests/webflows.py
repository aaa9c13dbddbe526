"""Drive the agency's page as a person would, for any browser test (Playwright pages).

The agency's whole set-up (clients/web/js/views/agency_setup.js, views/agency.js) by the
stable ids of its inputs:

- :func:`fill_tender_form` fills the set-up form (``#/agency``, no tender chosen);
- :func:`make_opening_key` makes the opening key in the page and downloads the n share files;
- :func:`create_tender` clicks 下一步 and confirms, returning the ``tender.create`` body sent;
- :func:`grant_in_page` appoints a participant (from the appointer's own page);
- :func:`publish_in_page` publishes the tender;
- :func:`set_up_tender` does all of it for the agency's page.

Ids: ``setup-tender``, ``setup-title``, ``setup-section-id``, ``setup-section-name``,
``setup-opening-at`` (datetime-local, Beijing time), ``setup-window`` (minutes),
``setup-envelopes`` (``single`` | ``technical+commercial``), ``setup-min-bids``,
``setup-few-valid``, ``setup-failure-rule``, ``setup-k``, ``setup-n``, ``setup-keyholder-<i>``
(0-based), ``setup-make-key``, ``share-link-<i>`` (1-based), ``setup-control-limit``,
``setup-floor-kind`` (``none`` | ``floor`` | ``floor_ratio``), ``setup-floor``,
``setup-method-kind``, ``setup-recommend``, ``crit-<i>-id|name|kind|max|scale|low|high|step|values``
and ``crit-<i>-remove`` (i as in ``method.criteria[i]``), ``crit-add``, ``setup-trim-count``,
``setup-trim-from``, ``setup-coefficient``, ``setup-above``, ``setup-below``, ``setup-json``
(the read-only preview), ``setup-next``; each input's error is ``#<id>-error``. On a tender's
page: ``grant-user``, ``grant-role``, ``grant-venue``, ``grant-btn``, ``publish-btn``; the
dialog's ``confirm-ok`` / ``confirm-cancel``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import expect

BEIJING = timedelta(hours=8)


def beijing_local(at: datetime) -> str:
    """``at`` as a datetime-local input holds it in Beijing time: ``2026-12-15T09:30``, with
    ``:SS`` when ``at`` is not on a whole minute (the input then takes seconds too)."""
    fmt = "%Y-%m-%dT%H:%M" if at.second == 0 else "%Y-%m-%dT%H:%M:%S"
    return (at.astimezone(UTC) + BEIJING).strftime(fmt)


async def fill_tender_form(
    page: Any,
    *,
    tender: str,
    keyholders: Sequence[str],
    opening_at: datetime,
    title: str = "公路养护工程",
    k: int = 2,
    envelopes: str = "single",
    window_minutes: float | None = None,
    min_bids: int | None = None,
    few_valid: str | None = None,
    failure_rule: str | None = None,
    control_price: Mapping[str, str] | None = None,
    criteria: Sequence[Mapping[str, str]] | None = None,
) -> None:
    """Fill the set-up form; what is not given keeps the form's default.

    ``opening_at`` is entered to the second (on a whole minute as HH:MM). ``control_price``:
    ``{"limit": …, "floor": …}`` or ``{"limit": …, "floor_ratio": …}``. ``criteria``, when
    given, replace the defaults, each ``{"id", "name", "kind", "max", "scale", "low", "high",
    "step", "values"}`` (kind ``pass_fail`` | ``expert`` | ``price``; scale ``none`` |
    ``range`` | ``steps`` | ``values``).
    """
    await expect(page.locator("#setup-form")).to_be_visible()
    await page.fill("#setup-tender", tender)
    await page.fill("#setup-title", title)
    await page.fill("#setup-opening-at", beijing_local(opening_at))
    await page.select_option("#setup-envelopes", envelopes)
    if window_minutes is not None:
        await page.fill("#setup-window", str(window_minutes))
    if min_bids is not None:
        await page.fill("#setup-min-bids", str(min_bids))
    if few_valid is not None:
        await page.select_option("#setup-few-valid", few_valid)
    if failure_rule is not None:
        await page.select_option("#setup-failure-rule", failure_rule)
    await page.fill("#setup-n", str(len(keyholders)))
    await page.locator("#setup-n").dispatch_event("change")
    await page.fill("#setup-k", str(k))
    for i, user in enumerate(keyholders):
        await page.fill(f"#setup-keyholder-{i}", user)
    if control_price is not None:
        await page.fill("#setup-control-limit", control_price["limit"])
        for kind in ("floor", "floor_ratio"):
            if kind in control_price:
                await page.select_option("#setup-floor-kind", kind)
                await page.fill("#setup-floor", control_price[kind])
    if criteria is not None:
        while await page.locator("#crit-0-remove").count():
            await page.click("#crit-0-remove")
        for i, c in enumerate(criteria):
            await page.click("#crit-add")
            await fill_criterion(page, i, c)


async def fill_criterion(page: Any, i: int, c: Mapping[str, str]) -> None:
    """Fill criterion ``i`` of the form (it exists already)."""
    await page.select_option(f"#crit-{i}-kind", c.get("kind", "expert"))
    await page.fill(f"#crit-{i}-id", c["id"])
    await page.fill(f"#crit-{i}-name", c["name"])
    if c.get("kind", "expert") != "pass_fail":
        await page.fill(f"#crit-{i}-max", c["max"])
    scale = c.get("scale", "none")
    if c.get("kind", "expert") == "expert":
        await page.select_option(f"#crit-{i}-scale", scale)
    for key in ("low", "high", "step", "values"):
        if key in c:
            await page.fill(f"#crit-{i}-{key}", c[key])


async def make_opening_key(page: Any, out_dir: Path, n: int) -> tuple[str, list[Path]]:
    """Make the opening key in the page; download the n share files into ``out_dir``.
    Returns the recipient shown and the share files, in keyholder order."""
    await page.click("#setup-make-key")
    recipient = (await page.locator("#setup-recipient").text_content() or "").strip()
    return recipient, await download_shares(page, out_dir, n)


async def download_shares(page: Any, out_dir: Path, n: int) -> list[Path]:
    """Download the share files offered in the page (``#share-link-1`` … ``n``)."""
    files = []
    for i in range(1, n + 1):
        async with page.expect_download() as info:
            await page.click(f"#share-link-{i}")
        download = await info.value
        path = out_dir / download.suggested_filename
        await download.save_as(str(path))
        files.append(path)
    return files


async def create_tender(page: Any) -> dict[str, Any]:
    """下一步, then confirm: the ``tender.create`` command the dialog showed (and the page sent).
    Waits until the tender's own page shows its phase."""
    await page.click("#setup-next")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    sent: dict[str, Any] = json.loads(await dialog.locator("pre").text_content() or "{}")
    await page.click("#confirm-ok")
    await expect(page.locator("#phase")).to_have_text("草稿")
    return sent


async def grant_in_page(page: Any, user: str, role: str, venue: str = "") -> None:
    """Appoint ``user`` as ``role`` from the tender's page (``#/agency?tender=…``), confirming."""
    await page.fill("#grant-user", user)
    await page.select_option("#grant-role", role)
    if venue:
        await page.fill("#grant-venue", venue)
    await expect(page.locator("#grant-btn")).to_be_enabled()
    await page.click("#grant-btn")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text(user)
    await page.click("#confirm-ok")
    await expect(dialog).to_have_count(0)
    # Acknowledged: listed among the appointments (the form is cleared for the next one).
    listed = page.locator(f'#grant-table tr[data-user="{user}"][data-role="{role}"]')
    await expect(listed).to_have_count(1)


async def publish_in_page(page: Any) -> None:
    """Publish from the agency's tender page, confirming; waits for 投标中."""
    await page.click("#publish-btn")
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await page.click("#confirm-ok")
    await expect(page.locator("#phase")).to_have_text("投标中")


async def set_up_tender(
    page: Any, out_dir: Path, *, tender: str, keyholders: Sequence[str], **form: Any
) -> tuple[dict[str, Any], list[Path]]:
    """The agency's whole set-up in its page: fill the form, make the key and download the
    shares, create the tender. Returns the command sent and the share files. Grants (from the
    appointers' pages) and :func:`publish_in_page` follow."""
    await page.goto(page.url.split("#")[0] + "#/agency")
    await fill_tender_form(page, tender=tender, keyholders=keyholders, **form)
    _recipient, shares = await make_opening_key(page, out_dir, len(keyholders))
    sent = await create_tender(page)
    return sent, shares

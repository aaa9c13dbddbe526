"""The expert pool's import file (专家库导入): a CSV as an operator keeps it, parsed into records.

Pure: bytes in, records or one :class:`PoolCsvError` out, naming the line and the field. A
file is taken whole or not at all, so the parser checks every row before anyone writes one.

The format (``docs/operations.md``):

- UTF-8, with or without the byte-order mark Excel writes ("CSV UTF-8"); any other encoding
  is refused, rather than guessed, because a wrongly decoded name would be imported silently.
- A header row naming the columns, in any order: ``user_id``, ``name``, ``specialties``,
  ``region``, ``employer`` are required; ``credit``, ``relations`` and ``signing_key`` may be
  left out or left empty.
- ``specialties`` and ``relations`` are lists separated by ``;`` (or the full-width ``；`` a
  Chinese keyboard types); items are trimmed, empty items dropped, repeats merged.
- ``credit`` is 0 to 100 with at most two decimals; empty means "keep the expert's credit"
  (a new expert starts at the pool's default).
- ``signing_key`` is the expert's Ed25519 public key (``ed25519:…``), needed when the expert
  has no account yet; its format is checked by the caller, which holds the crypto.
- Blank lines are skipped; a user id appears once per file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from evalroom.domain.rules import RuleError

__all__ = [
    "COLUMNS",
    "MAX_BYTES",
    "MAX_ROWS",
    "REQUIRED",
    "ExpertRecord",
    "PoolCsvError",
    "parse_pool_csv",
]

CODE = "invalid_pool_csv"
MAX_BYTES = 2 * 1024 * 1024  # some 10,000 experts with long names fit comfortably
MAX_ROWS = 10_000
MAX_TEXT = 64  # a name, a region, an employer's id, a specialty, a company id
MAX_ITEMS = 50  # specialties or relations of one expert
MAX_KEY = 200

REQUIRED = ("user_id", "name", "specialties", "region", "employer")
COLUMNS = (*REQUIRED, "credit", "relations", "signing_key")

# The same ids the platform's users and paths have: a login name, never free text.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[;；]")
_CREDIT = re.compile(r"\d{1,3}(\.\d{1,2})?")

# problem -> (zh-CN, English); ``{value}`` and ``{other}`` are filled in.
PROBLEMS: Mapping[str, tuple[str, str]] = {
    "encoding": (
        "文件不是 UTF-8 编码；请在 Excel 中另存为“CSV UTF-8（逗号分隔）”",
        'the file is not UTF-8; in Excel, save it as "CSV UTF-8 (Comma delimited)"',
    ),
    "too_large": ("文件超过 {value} 字节", "the file is larger than {value} bytes"),
    "too_many_rows": ("专家超过 {value} 行", "more than {value} experts"),
    "empty": ("文件没有表头行", "the file has no header row"),
    "syntax": ("CSV 格式错误：{value}", "not valid CSV: {value}"),
    "missing_column": ("缺少列 {value}", "the column {value} is missing"),
    "unknown_column": (
        "未知列 {value}；可用的列：{other}",
        "unknown column {value}; the columns are {other}",
    ),
    "repeated_column": ("列 {value} 重复", "the column {value} appears twice"),
    "cells": (
        "该行有 {value} 个单元格，表头有 {other} 列",
        "the row has {value} cells, the header {other}",
    ),
    "required": ("不能为空", "must not be empty"),
    "too_long": ("超过 {value} 个字符", "is longer than {value} characters"),
    "control": ("含有控制字符", "holds a control character"),
    "user_id": (
        "“{value}”不是有效的用户编号（字母、数字、. _ -，最多 64 个字符）",
        '"{value}" is not a user id (letters, digits, . _ -, at most 64)',
    ),
    "duplicate": (
        "用户 {value} 已在第 {other} 行出现",
        "user {value} already appears on line {other}",
    ),
    "credit": (
        "“{value}”不是 0 到 100 之间、最多两位小数的数",
        '"{value}" is not a number from 0 to 100 with at most two decimals',
    ),
    "too_many_items": ("超过 {value} 项", "has more than {value} items"),
    "no_specialty": ("至少需要一个专业", "needs at least one specialty"),
    "signing_key": (
        "“{value}”不是 Ed25519 公钥（ed25519:…）",
        '"{value}" is not an Ed25519 public key (ed25519:…)',
    ),
    "key_needed": (
        "用户 {value} 尚未注册，需要 signing_key",
        "user {value} has no account yet: give its signing_key",
    ),
    "key_differs": (
        "与用户 {value} 已登记的公钥不同；导入不会更换任何人的登录公钥",
        "differs from the key user {value} registered; an import never replaces a login key",
    ),
    "company_account": (
        "用户 {value} 是单位账户（{other}）；专家须使用本人账户",
        "user {value} is a company's account ({other}); an expert has an account of their own",
    ),
}


class PoolCsvError(RuleError):
    """One problem that refuses the whole file: where (``line``, ``field``) and what."""

    def __init__(self, line: int, field: str, problem: str, value: object = "", other: object = ""):
        self.line, self.problem = line, problem
        self.value, self.other = str(value), str(other)
        self.field = field  # the file's column at fault (``text`` reads it)
        super().__init__(CODE, self.text("en"), field)

    def text(self, lang: str = "zh-CN") -> str:
        """The problem as a sentence naming the line and the field, in ``lang``."""
        zh, en = PROBLEMS[self.problem]
        english = lang.startswith("en")
        what = (en if english else zh).format(value=self.value, other=self.other)
        if english:
            where = f"line {self.line}" if self.line else "the file"
            return f"{where}, {self.field}: {what}" if self.field else f"{where}: {what}"
        where = f"第 {self.line} 行" if self.line else "文件"
        return f"{where} {self.field}：{what}" if self.field else f"{where}：{what}"


@dataclass(frozen=True)
class ExpertRecord:
    """One row of the file, checked; ``line`` is the file's line number (the header is 1)."""

    line: int
    user_id: str
    name: str
    specialties: tuple[str, ...]
    region: str
    employer: str
    credit: Decimal | None  # None: keep the credit the expert has (new: the default)
    relations: tuple[str, ...]
    signing_key: str | None  # None: the expert already has an account


def _text(line: int, field: str, raw: str, *, required: bool, limit: int = MAX_TEXT) -> str:
    value = raw.strip()
    if required and not value:
        raise PoolCsvError(line, field, "required")
    if len(value) > limit:
        raise PoolCsvError(line, field, "too_long", limit)
    if _CONTROL.search(value):
        raise PoolCsvError(line, field, "control")
    return value


def _items(line: int, field: str, raw: str) -> tuple[str, ...]:
    items: list[str] = []
    for part in _SEPARATORS.split(raw):
        item = _text(line, field, part, required=False)
        if item and item not in items:
            items.append(item)
    if len(items) > MAX_ITEMS:
        raise PoolCsvError(line, field, "too_many_items", MAX_ITEMS)
    return tuple(sorted(items))


def _credit(line: int, raw: str) -> Decimal | None:
    value = raw.strip()
    if not value:
        return None
    if not _CREDIT.fullmatch(value):
        raise PoolCsvError(line, "credit", "credit", value[:20])
    try:
        credit = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise PoolCsvError(line, "credit", "credit", value[:20]) from None
    if credit > 100:
        raise PoolCsvError(line, "credit", "credit", value)
    return credit


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise PoolCsvError(0, "", "too_large", MAX_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PoolCsvError(0, "", "encoding") from None
    return text.removeprefix("\ufeff")


def _header(line: int, cells: list[str]) -> list[str]:
    names = [c.strip().removeprefix("\ufeff").lower() for c in cells]
    for i, name in enumerate(names):
        if name not in COLUMNS:
            raise PoolCsvError(line, "", "unknown_column", name or f"#{i + 1}", ", ".join(COLUMNS))
        if name in names[:i]:
            raise PoolCsvError(line, "", "repeated_column", name)
    for name in REQUIRED:
        if name not in names:
            raise PoolCsvError(line, "", "missing_column", name)
    return names


def _record(line: int, row: Mapping[str, str]) -> ExpertRecord:
    user_id = _text(line, "user_id", row["user_id"], required=True)
    if not _USER_ID.fullmatch(user_id):
        raise PoolCsvError(line, "user_id", "user_id", user_id)
    specialties = _items(line, "specialties", row["specialties"])
    if not specialties:
        raise PoolCsvError(line, "specialties", "no_specialty")
    key = _text(line, "signing_key", row.get("signing_key", ""), required=False, limit=MAX_KEY)
    return ExpertRecord(
        line=line,
        user_id=user_id,
        name=_text(line, "name", row["name"], required=True),
        specialties=specialties,
        region=_text(line, "region", row["region"], required=True),
        employer=_text(line, "employer", row["employer"], required=True),
        credit=_credit(line, row.get("credit", "")),
        relations=_items(line, "relations", row.get("relations", "")),
        signing_key=key or None,
    )


def parse_pool_csv(data: bytes) -> list[ExpertRecord]:
    """Every expert of the file, in file order; the first problem raises :class:`PoolCsvError`."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    header: list[str] | None = None
    records: list[ExpertRecord] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num  # the line the row ends on (a quoted cell may span lines)
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _header(line, cells)
                continue
            if len(cells) != len(header):
                raise PoolCsvError(line, "", "cells", len(cells), len(header))
            if len(records) == MAX_ROWS:
                raise PoolCsvError(line, "", "too_many_rows", MAX_ROWS)
            record = _record(line, dict(zip(header, cells, strict=True)))
            if record.user_id in seen:
                raise PoolCsvError(
                    line, "user_id", "duplicate", record.user_id, seen[record.user_id]
                )
            seen[record.user_id] = line
            records.append(record)
    except csv.Error as exc:
        raise PoolCsvError(reader.line_num, "", "syntax", str(exc)) from None
    if header is None:
        raise PoolCsvError(0, "", "empty")
    return records

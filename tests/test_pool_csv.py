"""The pool's import file (``evalroom.domain.pool_csv``): pure, every edge named by line and
field, and a file is taken whole or refused whole."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evalroom.domain.pool_csv import MAX_BYTES, PoolCsvError, parse_pool_csv

HEADER = "user_id,name,specialties,region,employer,credit,relations,signing_key\n"
KEY = "ed25519:" + "A" * 43


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(r + "\n" for r in rows)).encode("utf-8")


def _refusal(data: bytes) -> PoolCsvError:
    with pytest.raises(PoolCsvError) as caught:
        parse_pool_csv(data)
    assert caught.value.code == "invalid_pool_csv"
    return caught.value


def test_a_row_becomes_a_record_with_trimmed_sorted_lists() -> None:
    [r] = parse_pool_csv(_csv(f"e-1, 张三 ,公路; 桥梁；公路,兰州,兰州设计院,85.5,c-2;c-1,{KEY}"))
    assert (r.line, r.user_id, r.name, r.region, r.employer) == (
        2,
        "e-1",
        "张三",
        "兰州",
        "兰州设计院",
    )
    assert r.specialties == ("公路", "桥梁") and r.relations == ("c-1", "c-2")
    assert r.credit == Decimal("85.5") and r.signing_key == KEY


def test_excel_utf8_with_a_bom_and_crlf_reads_the_same() -> None:
    plain = _csv("e-1,张三,公路,兰州,院,,,")
    excel = b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n")
    assert parse_pool_csv(excel) == parse_pool_csv(plain)


def test_optional_columns_may_be_left_out_or_empty() -> None:
    header = "name,user_id,region,employer,specialties\n"  # any order
    [r] = parse_pool_csv(_csv("张三,e-1,兰州,院,公路", header=header))
    assert r.credit is None and r.relations == () and r.signing_key is None


def test_blank_lines_are_skipped_and_lines_are_counted_as_in_the_file() -> None:
    data = _csv("e-1,甲,公路,兰州,院,,,", "", ",,,,,,,", "e-2,乙,公路,兰州,院,101,,")
    err = _refusal(data)
    assert (err.line, err.field, err.problem) == (5, "credit", "credit")
    assert err.text("en").startswith("line 5, credit:")
    assert err.text("zh-CN").startswith("第 5 行 credit：")


def test_a_quoted_cell_may_hold_commas_and_newlines() -> None:
    [r] = parse_pool_csv(_csv('e-1,"张三",公路,兰州,"甲, 乙 联合体",,,'))
    assert r.employer == "甲, 乙 联合体"


@pytest.mark.parametrize(
    ("row", "line", "field", "problem"),
    [
        (",甲,公路,兰州,院,,,", 2, "user_id", "required"),
        ("e 1,甲,公路,兰州,院,,,", 2, "user_id", "user_id"),
        ("e-1,,公路,兰州,院,,,", 2, "name", "required"),
        ("e-1,甲,;；,兰州,院,,,", 2, "specialties", "no_specialty"),
        ("e-1,甲,公路,,院,,,", 2, "region", "required"),
        ("e-1,甲,公路,兰州,,,,", 2, "employer", "required"),
        ("e-1,甲,公路,兰州,院,abc,,", 2, "credit", "credit"),
        ("e-1,甲,公路,兰州,院,-1,,", 2, "credit", "credit"),
        ("e-1,甲,公路,兰州,院,80.123,,", 2, "credit", "credit"),
        ("e-1,甲,公路,兰州,院,100.01,,", 2, "credit", "credit"),
        ("e-1,甲,公路,兰州,院,1e2,,", 2, "credit", "credit"),
        ("e-1," + "名" * 65 + ",公路,兰州,院,,,", 2, "name", "too_long"),
        ("e-1,甲\x07,公路,兰州,院,,,", 2, "name", "control"),
        (
            "e-1,甲,公路,兰州,院,," + ";".join(f"c{i}" for i in range(51)) + ",",
            2,
            "relations",
            "too_many_items",
        ),
        ("e-1,甲,公路,兰州,院,,", 2, "", "cells"),
    ],
)
def test_each_bad_cell_is_named_by_line_and_field(
    row: str, line: int, field: str, problem: str
) -> None:
    err = _refusal(_csv(row))
    assert (err.line, err.field, err.problem) == (line, field, problem)


def test_credit_bounds_and_two_decimals_are_accepted() -> None:
    rows = [f"e-{i},甲,公路,兰州,院,{c},," for i, c in enumerate(["0", "100", "100.00", "59.5"])]
    assert [r.credit for r in parse_pool_csv(_csv(*rows))] == [
        Decimal("0"), Decimal("100"), Decimal("100.00"), Decimal("59.5")
    ]  # fmt: skip


def test_one_bad_row_refuses_the_whole_file() -> None:
    good = [f"e-{i},甲,公路,兰州,院,80,," for i in range(5)]
    err = _refusal(_csv(*good, "e-9,乙,公路,兰州,院,x,,", *good[:1]))
    assert err.line == 7  # nothing is returned for the good rows: the caller writes nothing


def test_a_user_appears_once_per_file() -> None:
    err = _refusal(
        _csv("e-1,甲,公路,兰州,院,,,", "e-2,乙,公路,兰州,院,,,", "e-1,丙,公路,兰州,院,,,")
    )
    assert (err.line, err.field, err.problem, err.other) == (4, "user_id", "duplicate", "2")


@pytest.mark.parametrize(
    ("header", "problem", "value"),
    [
        ("user_id,name,specialties,region\n", "missing_column", "employer"),
        ("user_id,name,specialties,region,employer,grade\n", "unknown_column", "grade"),
        ("user_id,name,specialties,region,employer,name\n", "repeated_column", "name"),
    ],
)
def test_the_header_is_checked_first(header: str, problem: str, value: str) -> None:
    err = _refusal(header.encode())
    assert (err.line, err.problem, err.value) == (1, problem, value)


def test_column_names_are_trimmed_and_case_insensitive() -> None:
    header = " User_ID ,Name,SPECIALTIES,region,employer\n"
    assert parse_pool_csv(_csv("e-1,甲,公路,兰州,院", header=header))[0].user_id == "e-1"


def test_a_file_with_only_a_header_is_an_empty_pool_update() -> None:
    assert parse_pool_csv(HEADER.encode()) == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n\r\n", "empty"),
        ("user_id,name\n张三".encode("gbk"), "encoding"),  # Excel's "CSV" in a Chinese locale
        (b"x" * (MAX_BYTES + 1), "too_large"),
    ],
)
def test_files_that_are_not_a_pool_are_refused_with_a_reason(data: bytes, problem: str) -> None:
    assert _refusal(data).problem == problem


def test_a_stray_quote_is_a_csv_syntax_error_on_its_line() -> None:
    err = _refusal(_csv("e-1,甲,公路,兰州,院,,,", 'e-2,"乙"x,公路,兰州,院,,,'))
    assert err.problem == "syntax" and err.line == 3


def test_every_problem_has_both_sentences() -> None:
    from evalroom.domain.pool_csv import PROBLEMS

    for problem, (zh, en) in PROBLEMS.items():
        assert zh and en, problem
        err = PoolCsvError(3, "name", problem, "v", "o")
        assert "3" in err.text("zh-CN") and "line 3" in err.text("en")

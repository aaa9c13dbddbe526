"""Tests for crypto.shamir: k-of-n shares of the tender's 32-byte opening secret."""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import re

import pytest

from crypto.shamir import (
    MAX_SHARES,
    ShareError,
    ShareInfo,
    combine_shares,
    inspect_share,
    split_secret,
)

SECRET = bytes(range(100, 132))
SHARE_RE = re.compile(
    r"evalroom-share-1:(\d+):(\d+):(\d+):([0-9a-f]{16}):([A-Za-z0-9_-]{43}):([0-9a-f]{8})"
)


# --------------------------------------------------------------------------------------------
# The share string format, rebuilt here from its documented definition (so the tests pin it).


def _parts(share: str) -> tuple[int, int, int, str, bytes]:
    match = SHARE_RE.fullmatch(share)
    assert match, share
    k, n, index, set_id, payload, _ = match.groups()
    return int(k), int(n), int(index), set_id, base64.urlsafe_b64decode(payload + "=")


def _make_share(k: int, n: int, index: int, set_id: str, payload: bytes) -> str:
    payload_b64 = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    body = f"evalroom-share-1:{k}:{n}:{index}:{set_id}:{payload_b64}"
    check = hashlib.sha256(b"evalroom-share-1 check\x00" + body.encode()).digest()[:4].hex()
    return f"{body}:{check}"


def test_share_format() -> None:
    shares = split_secret(SECRET, 3, 5)
    assert len(shares) == 5 == len(set(shares))
    set_ids = set()
    for i, share in enumerate(shares, start=1):
        k, n, index, set_id, payload = _parts(share)
        assert (k, n, index) == (3, 5, i)
        assert _make_share(k, n, index, set_id, payload) == share  # the documented checksum
        assert inspect_share(share) == ShareInfo(3, 5, i, set_id)
        set_ids.add(set_id)
    assert len(set_ids) == 1
    # A fresh split of the same secret gets a fresh random set id and fresh shares.
    again = split_secret(SECRET, 3, 5)
    assert _parts(again[0])[3] not in set_ids
    assert not set(again) & set(shares)
    # Surrounding whitespace from copy-paste is tolerated.
    assert combine_shares([f"  {shares[0]}\n", shares[1], f"\t{shares[2]}"]) == SECRET


# --------------------------------------------------------------------------------------------
# Reconstruction


@pytest.mark.parametrize(("k", "n"), [(2, 2), (2, 3), (3, 5), (4, 6), (5, 5)])
def test_every_subset_of_at_least_k_shares_reconstructs(k: int, n: int) -> None:
    secret = random.Random(k * 100 + n).randbytes(32)
    shares = split_secret(secret, k, n)
    rng = random.Random(n)
    for size in range(k, n + 1):
        for subset in itertools.combinations(shares, size):
            chosen = list(subset)
            rng.shuffle(chosen)  # order must not matter
            assert combine_shares(chosen) == secret


@pytest.mark.parametrize(("k", "n"), [(2, 3), (3, 5), (5, 5)])
def test_fewer_than_k_shares_are_refused(k: int, n: int) -> None:
    shares = split_secret(SECRET, k, n)
    for size in range(k):
        for subset in itertools.combinations(shares, size):
            with pytest.raises(ShareError) as err:
                combine_shares(list(subset))
            assert err.value.code == "too_few_shares"


def test_extreme_parameters() -> None:
    shares = split_secret(SECRET, 2, MAX_SHARES)
    assert len(shares) == MAX_SHARES
    assert inspect_share(shares[-1]).index == MAX_SHARES
    assert combine_shares([shares[0], shares[-1]]) == SECRET
    assert combine_shares([shares[-2], shares[-1]]) == SECRET
    shares = split_secret(SECRET, 12, 12)
    assert combine_shares(shares) == SECRET
    with pytest.raises(ShareError) as err:
        combine_shares(shares[:-1])
    assert err.value.code == "too_few_shares"
    assert combine_shares(split_secret(bytes(32), 2, 2)) == bytes(32)
    assert combine_shares(split_secret(b"\xff" * 32, 2, 2)) == b"\xff" * 32


# --------------------------------------------------------------------------------------------
# k - 1 shares reveal nothing: for ANY candidate secret there is a k-th share that, together
# with the same k - 1 real shares, reconstructs exactly that candidate. The construction uses
# GF(2^128) arithmetic written here independently of pycryptodome (polynomial basis, element
# = 128-bit integer read big-endian, reduction by x^128 + x^7 + x^2 + x + 1); if it disagreed
# with the library, the combined secrets below would not come out as the chosen candidates.

GF_MODULUS = (1 << 128) | 0b10000111


def gf_mul(a: int, b: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if a >> 128:
            a ^= GF_MODULUS
    return result


def gf_inv(a: int) -> int:
    # a^(2^128 - 2) = a^-1 in GF(2^128) (Fermat), by square and multiply.
    result, base, exponent = 1, a, (1 << 128) - 2
    while exponent:
        if exponent & 1:
            result = gf_mul(result, base)
        base = gf_mul(base, base)
        exponent >>= 1
    return result


def gf_interpolate(points: list[tuple[int, int]], x: int) -> int:
    """Value at ``x`` of the polynomial of degree < len(points) through ``points``."""
    total = 0
    for j, (xj, yj) in enumerate(points):
        term = yj
        for m, (xm, _) in enumerate(points):
            if m != j:
                # In characteristic 2, subtraction is XOR.
                term = gf_mul(term, gf_mul(x ^ xm, gf_inv(xj ^ xm)))
        total ^= term
    return total


def _complete_share(known: list[str], candidate: bytes, index: int) -> str:
    """The share at ``index`` that makes ``known`` (k-1 real shares) reconstruct ``candidate``."""
    k, n, _, set_id, _ = _parts(known[0])
    payload = b""
    for half in (slice(0, 16), slice(16, 32)):
        points = [(0, int.from_bytes(candidate[half], "big"))]
        for share in known:
            _, _, x, _, y = _parts(share)
            points.append((x, int.from_bytes(y[half], "big")))
        payload += gf_interpolate(points, index).to_bytes(16, "big")
    return _make_share(k, n, index, set_id, payload)


@pytest.mark.parametrize(("k", "n"), [(2, 3), (3, 5), (4, 7)])
def test_k_minus_1_shares_are_consistent_with_every_secret(k: int, n: int) -> None:
    shares = split_secret(SECRET, k, n)
    known = shares[: k - 1]
    missing_index = n  # a custodian whose share the holder of `known` does not have
    rng = random.Random(k)
    candidates = [SECRET, bytes(32), b"\xff" * 32, *(rng.randbytes(32) for _ in range(5))]
    completions = set()
    for candidate in candidates:
        forged = _complete_share(known, candidate, missing_index)
        assert combine_shares([*known, forged]) == candidate
        completions.add(forged)
    # Each candidate needs a different k-th share, and the real secret's completion is the real
    # share: the k - 1 shares fix nothing, the secret is decided entirely by the missing share.
    assert len(completions) == len(candidates)
    assert _complete_share(known, SECRET, missing_index) == shares[missing_index - 1]


# --------------------------------------------------------------------------------------------
# Refusals


def test_mixed_sets_are_refused() -> None:
    a = split_secret(SECRET, 2, 3)
    b = split_secret(SECRET, 2, 3)  # same secret, same parameters, different split
    c = split_secret(SECRET, 3, 3)
    for mix in ([a[0], b[1]], [a[0], a[1], b[2]], [a[0], c[1], c[2]]):
        with pytest.raises(ShareError) as err:
            combine_shares(mix)
        assert err.value.code == "mixed_sets"


def test_duplicates_are_refused() -> None:
    shares = split_secret(SECRET, 2, 3)
    with pytest.raises(ShareError) as err:
        combine_shares([shares[0], shares[0]])
    assert err.value.code == "duplicate_share"
    k, n, index, set_id, payload = _parts(shares[0])
    other = _make_share(k, n, index, set_id, bytes(b ^ 1 for b in payload))
    with pytest.raises(ShareError) as err:
        combine_shares([shares[0], other, shares[1]])
    assert err.value.code == "duplicate_share"


def test_every_single_character_corruption_is_detected() -> None:
    share, second = split_secret(SECRET, 2, 3)[:2]
    alphabet = "0123456789abcdefABCDEF-_:xyz"
    for position, original in enumerate(share):
        for replacement in (alphabet[(alphabet.find(original) + 1) % len(alphabet)], "7"):
            if replacement == original:
                continue
            corrupted = share[:position] + replacement + share[position + 1 :]
            with pytest.raises(ShareError) as err:
                combine_shares([corrupted, second])
            assert err.value.code == "malformed_share", (position, corrupted)
    # Truncation and a dropped or doubled character are caught too.
    for corrupted in (share[:-1], share[:-9], share[:50], share[1:], share + "0"):
        with pytest.raises(ShareError) as err:
            combine_shares([corrupted, second])
        assert err.value.code == "malformed_share"


def test_altered_extra_share_is_detected() -> None:
    shares = split_secret(SECRET, 2, 4)
    k, n, index, set_id, payload = _parts(shares[3])
    altered = _make_share(k, n, index, set_id, payload[:-1] + bytes([payload[-1] ^ 0x80]))
    with pytest.raises(ShareError) as err:
        combine_shares([shares[0], shares[1], altered])
    assert err.value.code == "inconsistent_shares"
    # With exactly k shares an altered (but well-formed) share cannot be noticed: the result
    # is simply another secret. This is why callers check the recovered identity.
    assert combine_shares([shares[0], altered]) != SECRET


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "evalroom-share-2:2:3:1:0123456789abcdef:" + "A" * 43 + ":00000000",
        "evalroom-share-1:2:3:1:0123456789abcdef:" + "A" * 42 + ":00000000",
    ],
)
def test_malformed_strings_are_refused(text: str) -> None:
    with pytest.raises(ShareError) as err:
        inspect_share(text)
    assert err.value.code == "malformed_share"


@pytest.mark.parametrize(
    ("k", "n", "index"),
    [(1, 3, 1), (4, 3, 1), (2, 3, 4), (2, 256, 1), (2, 3, 0)],
)
def test_out_of_range_parameters_are_refused_even_with_a_valid_checksum(
    k: int, n: int, index: int
) -> None:
    with pytest.raises(ShareError) as err:
        inspect_share(_make_share(k, n, index, "0123456789abcdef", bytes(32)))
    assert err.value.code == "malformed_share"


def test_non_canonical_payload_is_refused() -> None:
    good = _make_share(2, 3, 1, "0123456789abcdef", bytes(32))
    body = good.rsplit(":", 2)[0]
    payload = good.split(":")[5]
    assert payload.endswith("A")
    # Same 32 bytes, but the two spare bits set.
    body = body[: -len(payload)] + payload[:-1] + "B"
    check = hashlib.sha256(b"evalroom-share-1 check\x00" + body.encode()).digest()[:4].hex()
    with pytest.raises(ShareError) as err:
        inspect_share(f"{body}:{check}")
    assert err.value.code == "malformed_share"


def test_bad_arguments() -> None:
    with pytest.raises(ShareError) as err:
        combine_shares(split_secret(SECRET, 2, 2)[0])
    assert err.value.code == "malformed_share"
    with pytest.raises(ShareError) as err:
        combine_shares([None])  # type: ignore[list-item]
    assert err.value.code == "malformed_share"
    for secret, k, n in [
        (SECRET[:31], 2, 3),
        (SECRET + b"x", 2, 3),
        (SECRET, 1, 3),
        (SECRET, 4, 3),
        (SECRET, 2, 256),
        (SECRET, 0, 0),
    ]:
        with pytest.raises(ValueError):
            split_secret(secret, k, n)
    with pytest.raises(ValueError):
        split_secret("x" * 32, 2, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        split_secret(SECRET, True, 3)

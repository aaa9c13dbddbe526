"""Bech32 (BIP-173) as age uses it: checksum constant 1, no 90-character length limit.

Only the pieces age needs: encoding a human-readable part and a byte string, and decoding
it back with strict checks (single case, valid checksum, zero padding bits). The checksum is
always computed over the lower-case form, so an upper-case string (age's secret keys) is
decoded by lowering it first; the human-readable part is returned in the case it was written
in, because age tells ``AGE-SECRET-KEY-`` and ``age`` apart by exact spelling.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """A string is not valid Bech32."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: list[int]) -> list[int]:
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ 1
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def _to_5bit(data: bytes) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def _from_5bit(data: list[int]) -> bytes:
    acc = 0
    bits = 0
    out = bytearray()
    for value in data:
        acc = (acc << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    # BIP-173: at most 4 padding bits, all zero; anything else means a different byte string
    # could have produced the same characters, which would make keys malleable.
    if bits >= 5 or (acc & ((1 << bits) - 1)):
        raise Bech32Error("invalid Bech32 padding")
    return bytes(out)


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the result is lower case (callers upper-case it)."""
    hrp = hrp.lower()
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("invalid Bech32 human-readable part")
    values = _to_5bit(data)
    return hrp + "1" + "".join(CHARSET[v] for v in values + _create_checksum(hrp, values))


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into (human-readable part as written, data bytes)."""
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("Bech32 string mixes upper and lower case")
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("Bech32 separator misplaced or checksum too short")
    hrp = text[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("invalid character in Bech32 human-readable part")
    try:
        values = [_CHARSET_REV[c] for c in text[pos + 1 :].lower()]
    except KeyError:
        raise Bech32Error("invalid character in Bech32 data part") from None
    if _polymod(_hrp_expand(hrp.lower()) + values) != 1:
        raise Bech32Error("invalid Bech32 checksum")
    return hrp, _from_5bit(values[:-6])

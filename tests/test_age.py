"""Tests for crypto.age: round trips, interop (pyrage, age CLI), C2SP CCTV vectors, tampering,
bounded memory, header inspection, and the Bech32 key encoding."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import hmac
import io
import os
import shutil
import subprocess
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import _bech32, age

try:
    import pyrage
except ImportError:  # pragma: no cover - pyrage is a test dependency
    pyrage = None

needs_pyrage = pytest.mark.skipif(pyrage is None, reason="pyrage is not installed")

CHUNK = age.CHUNK_SIZE
ENC_CHUNK = CHUNK + 16
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def keys() -> list[tuple[str, str]]:
    return [age.generate_identity() for _ in range(3)]


@pytest.fixture(scope="module")
def identity(keys: list[tuple[str, str]]) -> str:
    return keys[0][0]


@pytest.fixture(scope="module")
def recipient(keys: list[tuple[str, str]]) -> str:
    return keys[0][1]


def _payload_offset(sealed: bytes) -> int:
    """Offset of the first chunk: header plus the 16-byte nonce."""
    return age.inspect_header(io.BytesIO(sealed)).length + 16


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    start = _payload_offset(sealed)
    body = sealed[start:]
    return sealed[:start], [body[i : i + ENC_CHUNK] for i in range(0, len(body), ENC_CHUNK)]


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _craft(recipient: str, chunks: list[tuple[bytes, bool]]) -> bytes:
    """Build an age file independently of crypto.age, with each chunk's last flag chosen."""
    _, public = _bech32.decode(recipient)
    file_key = os.urandom(16)
    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    wrap_key = _hkdf(shared, share + public, b"age-encryption.org/v1/X25519")
    body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None)
    header = b"age-encryption.org/v1\n-> X25519 " + _b64(share) + b"\n" + _b64(body) + b"\n---"
    mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
    nonce = os.urandom(16)
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    out = [header, b" ", _b64(mac), b"\n", nonce]
    for counter, (plaintext, last) in enumerate(chunks):
        out.append(aead.encrypt(counter.to_bytes(11, "big") + bytes([last]), plaintext, None))
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# Keys


def _flip_last(text: str) -> str:
    return text[:-1] + ("q" if text[-1] != "q" else "p")


def test_generate_identity_returns_age_bech32_forms() -> None:
    identity, recipient = age.generate_identity()
    assert identity.startswith("AGE-SECRET-KEY-1") and identity == identity.upper()
    assert recipient.startswith("age1") and recipient == recipient.lower()
    assert len(identity) == 74 and len(recipient) == 62
    assert age.to_recipient(identity) == recipient


def test_generate_identity_returns_a_fresh_key_each_time() -> None:
    assert age.generate_identity() != age.generate_identity()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "age1",
        "AGE-SECRET-KEY-1",
        "not a key",
        _flip_last(age.generate_identity()[1]),  # bad checksum
        age.generate_identity()[1].upper(),  # age recipients are lower case
        _bech32.encode("age", os.urandom(31)),  # wrong key length
    ],
)
def test_invalid_recipient_raises_key_error(bad: str) -> None:
    with pytest.raises(age.AgeKeyError) as info:
        age.encrypt_bytes(b"x", [bad])
    assert info.value.code == "invalid_key"


def test_identity_string_used_as_recipient_raises_key_error(identity: str) -> None:
    with pytest.raises(age.AgeKeyError):
        age.encrypt_bytes(b"x", [identity])


def test_recipient_string_used_as_identity_raises_key_error(recipient: str) -> None:
    sealed = age.encrypt_bytes(b"x", [recipient])
    with pytest.raises(age.AgeKeyError):
        age.decrypt_bytes(sealed, [recipient])


def test_mixed_case_identity_raises_key_error(identity: str) -> None:
    with pytest.raises(age.AgeKeyError):
        age.to_recipient(identity[:20] + identity[20:].lower())


def test_key_error_message_does_not_reveal_the_identity(identity: str) -> None:
    broken = identity[:-1] + ("Q" if identity[-1] != "Q" else "P")
    with pytest.raises(age.AgeKeyError) as info:
        age.to_recipient(broken)
    assert identity[16:40] not in str(info.value)


def test_empty_recipient_list_raises_key_error() -> None:
    with pytest.raises(age.AgeKeyError):
        age.encrypt_bytes(b"x", [])


def test_empty_identity_list_raises_key_error(recipient: str) -> None:
    with pytest.raises(age.AgeKeyError):
        age.decrypt_bytes(age.encrypt_bytes(b"x", [recipient]), [])


def test_single_string_instead_of_recipient_list_raises_type_error(recipient: str) -> None:
    with pytest.raises(TypeError):
        age.encrypt(io.BytesIO(b"x"), io.BytesIO(), recipient)


# BIP-173's published valid and invalid Bech32 strings (age uses Bech32 without length limit).
@pytest.mark.parametrize(
    "text",
    [
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ],
)
def test_bech32_accepts_bip173_valid_strings(text: str) -> None:
    hrp, data = _bech32.decode(text)
    assert _bech32.encode(hrp, data) == text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "pzry9x0s0muk",
        "1pzry9x0s0muk",
        "x1b4n0q5v",
        "li1dgmt3",
        "de1lg7wt\xff",
        "A1G7SGD8",
        "10a06t8",
    ]
    + ["1qzzfhee", "A12UEl5L", "\x201nwldj5", "\x7f1axkwrx"],
)
def test_bech32_rejects_bip173_invalid_strings(text: str) -> None:
    with pytest.raises(_bech32.Bech32Error):
        _bech32.decode(text)


def test_bech32_has_no_90_character_limit() -> None:
    data = os.urandom(200)
    text = _bech32.encode("age", data)
    assert len(text) > 90
    assert _bech32.decode(text) == ("age", data)


def test_bech32_rejects_nonzero_padding_bits() -> None:
    # One byte is 8 bits = two 5-bit groups with 2 padding bits; set a padding bit.
    values = [0, 1]
    checksum = _bech32._create_checksum("age", values)
    text = "age1" + "".join(_bech32.CHARSET[v] for v in values + checksum)
    with pytest.raises(_bech32.Bech32Error):
        _bech32.decode(text)


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * MIB + 17],
    ids=["0", "1", "64KiB-1", "64KiB", "64KiB+1", "3x64KiB", "3MiB+17"],
)
def test_round_trip_preserves_plaintext(size: int, identity: str, recipient: str) -> None:
    plaintext = os.urandom(size)
    sealed = age.encrypt_bytes(plaintext, [recipient])
    assert age.decrypt_bytes(sealed, [identity]) == plaintext


@pytest.mark.parametrize(
    ("size", "chunk_sizes"),
    [
        (0, [16]),
        (1, [17]),
        (CHUNK, [ENC_CHUNK]),
        (CHUNK + 1, [ENC_CHUNK, 17]),
        (2 * CHUNK, [ENC_CHUNK, ENC_CHUNK]),
    ],
)
def test_payload_uses_full_final_chunk_and_no_empty_final_chunk(
    size: int, chunk_sizes: list[int], recipient: str
) -> None:
    sealed = age.encrypt_bytes(bytes(size), [recipient])
    _, chunks = _chunks(sealed)
    assert [len(c) for c in chunks] == chunk_sizes


@pytest.mark.parametrize("chunks", [7, 8, 9, 16, 17])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_round_trip_across_read_buffer_boundaries(
    chunks: int, extra: int, identity: str, recipient: str
) -> None:
    # crypto.age reads several chunks per call; sizes around multiples of that must round-trip
    # through both normal and trickling sources.
    plaintext = os.urandom(chunks * CHUNK + extra)
    sealed = age.encrypt_bytes(plaintext, [recipient])
    assert len(sealed) == _payload_offset(sealed) + len(plaintext) + 16 * (
        (len(plaintext) + CHUNK - 1) // CHUNK or 1
    )
    assert age.decrypt_bytes(sealed, [identity]) == plaintext
    trickled = io.BytesIO()
    age.encrypt(cast(BinaryIO, _Trickle(plaintext)), trickled, [recipient])
    out = io.BytesIO()
    age.decrypt(cast(BinaryIO, _Trickle(trickled.getvalue())), out, [identity])
    assert out.getvalue() == plaintext


def test_every_recipient_can_decrypt(keys: list[tuple[str, str]]) -> None:
    plaintext = os.urandom(CHUNK + 5)
    sealed = age.encrypt_bytes(plaintext, [r for _, r in keys])
    assert age.inspect_header(io.BytesIO(sealed)).stanza_types == ("X25519",) * 3
    for identity, _ in keys:
        assert age.decrypt_bytes(sealed, [identity]) == plaintext


def test_decrypt_tries_every_identity(keys: list[tuple[str, str]]) -> None:
    sealed = age.encrypt_bytes(b"bid", [keys[2][1]])
    assert age.decrypt_bytes(sealed, [keys[0][0], keys[1][0], keys[2][0]]) == b"bid"


def test_encrypting_twice_gives_different_files(recipient: str) -> None:
    assert age.encrypt_bytes(b"same", [recipient]) != age.encrypt_bytes(b"same", [recipient])


def test_streams_work_with_unbuffered_files(tmp_path: Path, identity: str, recipient: str) -> None:
    plaintext = os.urandom(2 * CHUNK + 3)
    (tmp_path / "plain").write_bytes(plaintext)
    with (
        open(tmp_path / "plain", "rb", buffering=0) as src,
        open(tmp_path / "sealed", "wb", buffering=0) as dst,
    ):
        age.encrypt(src, dst, [recipient])
    with (
        open(tmp_path / "sealed", "rb", buffering=0) as src,
        open(tmp_path / "opened", "wb", buffering=0) as dst,
    ):
        age.decrypt(src, dst, [identity])
    assert (tmp_path / "opened").read_bytes() == plaintext


class _Trickle(io.RawIOBase):
    """A source that returns at most a few bytes per read, like a slow socket."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._src.read(min(len(buffer), 997))
        buffer[: len(data)] = data
        return len(data)


def test_short_reads_from_the_source_are_handled(identity: str, recipient: str) -> None:
    plaintext = os.urandom(2 * CHUNK + 100)
    sealed = io.BytesIO()
    age.encrypt(cast(BinaryIO, _Trickle(plaintext)), sealed, [recipient])
    out = io.BytesIO()
    age.decrypt(cast(BinaryIO, _Trickle(sealed.getvalue())), out, [identity])
    assert out.getvalue() == plaintext


# --------------------------------------------------------------------------------------------
# Interop: pyrage (rage) and the age command-line tool


@needs_pyrage
@pytest.mark.parametrize("size", [0, 1000, CHUNK, 2 * CHUNK + 1])
def test_pyrage_decrypts_our_file(size: int) -> None:
    key = pyrage.x25519.Identity.generate()
    plaintext = os.urandom(size)
    sealed = age.encrypt_bytes(plaintext, [str(key.to_public())])
    assert pyrage.decrypt(sealed, [key]) == plaintext


@needs_pyrage
@pytest.mark.parametrize("size", [0, 1000, CHUNK, 2 * CHUNK + 1])
def test_we_decrypt_pyrage_file(size: int) -> None:
    key = pyrage.x25519.Identity.generate()
    plaintext = os.urandom(size)
    sealed = pyrage.encrypt(plaintext, [key.to_public()])
    assert age.decrypt_bytes(sealed, [str(key)]) == plaintext


@needs_pyrage
def test_pyrage_accepts_our_keys(identity: str, recipient: str) -> None:
    key = pyrage.x25519.Identity.from_str(identity)
    assert str(key.to_public()) == recipient
    sealed = pyrage.encrypt(b"bid", [pyrage.x25519.Recipient.from_str(recipient)])
    assert age.decrypt_bytes(sealed, [identity]) == b"bid"


AGE_CLI = shutil.which("age")
needs_age_cli = pytest.mark.skipif(
    AGE_CLI is None, reason="the age command-line tool is not installed (apt-get install age)"
)


def _run(args: list[str], data: bytes | None = None) -> bytes:
    done = subprocess.run(args, input=data, capture_output=True, check=True, timeout=60)
    return done.stdout


@needs_age_cli
@pytest.mark.parametrize("size", [0, 1000, CHUNK, 3 * CHUNK + 7])
def test_we_decrypt_age_cli_file(size: int, identity: str, recipient: str) -> None:
    assert AGE_CLI is not None
    plaintext = os.urandom(size)
    sealed = _run([AGE_CLI, "-r", recipient], plaintext)
    assert age.decrypt_bytes(sealed, [identity]) == plaintext


@needs_age_cli
@pytest.mark.parametrize("size", [0, 1000, CHUNK, 3 * CHUNK + 7])
def test_age_cli_decrypts_our_file(
    size: int, tmp_path: Path, identity: str, recipient: str
) -> None:
    assert AGE_CLI is not None
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(identity + "\n")
    plaintext = os.urandom(size)
    sealed = age.encrypt_bytes(plaintext, [recipient])
    assert _run([AGE_CLI, "-d", "-i", str(keyfile)], sealed) == plaintext


@needs_age_cli
def test_age_keygen_derives_our_recipient(tmp_path: Path, identity: str, recipient: str) -> None:
    keygen = shutil.which("age-keygen")
    if keygen is None:
        pytest.skip("age-keygen is not installed")
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(identity + "\n")
    assert _run([keygen, "-y", str(keyfile)]).decode().strip() == recipient


# --------------------------------------------------------------------------------------------
# C2SP CCTV vectors


def _vectors_dir() -> Path:
    base = os.environ.get("EVALROOM_VECTORS")
    root = Path(base) if base else Path(__file__).resolve().parents[2] / "shared" / "vectors"
    return root / "age"


VECTORS = _vectors_dir()
KNOWN_VECTOR_KEYS = {
    "expect",
    "payload",
    "file key",
    "identity",
    "passphrase",
    "armored",
    "compressed",
    "comment",
}


def _vector_params(keep: Callable[[str], bool] = lambda head: True) -> list[Any]:
    """One param per vector file whose textual header satisfies ``keep``; a visible skip if the
    vectors are not there."""
    if not VECTORS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no age vectors at {VECTORS}"))]
    files = sorted(p for p in VECTORS.iterdir() if p.is_file() and p.name != "README.md")
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no age vectors in {VECTORS}"))]
    params = []
    for path in files:
        with open(path, "rb") as f:
            head = f.read(4096).partition(b"\n\n")[0].decode("utf-8", "replace")
        if keep(head):
            params.append(pytest.param(path, id=path.name))
    return params


def _valid_unarmored_header(head: str) -> bool:
    lines = head.splitlines()
    return "expect: header failure" not in lines and "armored: yes" not in lines


class Vector:
    def __init__(self, path: Path) -> None:
        head, sep, body = path.read_bytes().partition(b"\n\n")
        assert sep, f"{path.name}: no blank line after the textual header"
        self.name = path.name
        self.meta: dict[str, list[str]] = {}
        for line in head.decode("utf-8").splitlines():
            key, _, value = line.partition(": ")
            self.meta.setdefault(key, []).append(value)
        compressed = self.first("compressed")
        if compressed is None:
            self.body = body
        elif compressed == "zlib":
            self.body = zlib.decompress(body)
        else:
            # A vector we cannot read must fail, not vanish from the count.
            pytest.fail(f"{path.name}: unknown compression {compressed!r}")
        self.expect = self.first("expect")
        self.identities = self.meta.get("identity", [])

    def first(self, key: str) -> str | None:
        values = self.meta.get(key)
        return values[0] if values else None

    def skip_reason(self) -> str | None:
        unknown = set(self.meta) - KNOWN_VECTOR_KEYS
        if unknown:
            return f"unknown vector keys {sorted(unknown)} (README: ignore such files)"
        if self.first("armored") == "yes":
            return "ASCII armor is not implemented"
        if any(i.startswith("AGE-SECRET-KEY-PQ-") for i in self.identities):
            return "post-quantum hybrid (mlkem768x25519) identities are not implemented"
        if not self.identities and "passphrase" in self.meta:
            return "scrypt passphrase recipients are not implemented"
        return None


@pytest.mark.parametrize("path", _vector_params())
def test_cctv_vector(path: Path) -> None:
    vector = Vector(path)
    reason = vector.skip_reason()
    if reason:
        pytest.skip(reason)
    # A vector without identity must fail before any key is needed; any identity will do.
    identities = vector.identities or [age.generate_identity()[0]]
    out = io.BytesIO()

    def released() -> str:
        return hashlib.sha256(out.getvalue()).hexdigest()

    if vector.expect == "success":
        age.decrypt(io.BytesIO(vector.body), out, identities)
        assert released() == vector.first("payload")
        return

    expected: dict[str | None, type[age.AgeError]] = {
        "header failure": age.HeaderError,
        "HMAC failure": age.HeaderMacError,
        "no match": age.NoIdentityMatch,
        "payload failure": age.PayloadError,
        "armor failure": age.AgeError,
    }
    if vector.expect not in expected:
        pytest.fail(f"{path.name}: unknown expectation {vector.expect!r}")
    with pytest.raises(expected[vector.expect]) as info:
        age.decrypt(io.BytesIO(vector.body), out, identities)
    if vector.expect == "header failure":
        assert not isinstance(info.value, age.HeaderMacError), "a parse error surfaced as HMAC"
    if vector.expect == "payload failure":
        # Whatever was released before the failure must be exactly the authentic prefix.
        assert released() == vector.first("payload")
    else:
        assert out.getvalue() == b""


@pytest.mark.parametrize("path", _vector_params(_valid_unarmored_header))
def test_inspect_header_accepts_every_unarmored_vector_with_a_valid_header(path: Path) -> None:
    # Including the scrypt and post-quantum ones: inspecting needs no key of any kind.
    vector = Vector(path)
    src = io.BytesIO(vector.body)
    header = age.inspect_header(src)
    assert src.tell() == header.length
    assert vector.body[header.length - 48 : header.length].startswith(b"--- ")


# --------------------------------------------------------------------------------------------
# Tampering


@pytest.fixture(scope="module")
def three_chunks(recipient: str) -> tuple[bytes, bytes]:
    plaintext = os.urandom(2 * CHUNK + 100)
    return plaintext, age.encrypt_bytes(plaintext, [recipient])


def _decrypt_error(sealed: bytes, identities: list[str]) -> tuple[age.AgeError, bytes]:
    out = io.BytesIO()
    with pytest.raises(age.AgeError) as info:
        age.decrypt(io.BytesIO(sealed), out, identities)
    return info.value, out.getvalue()


@pytest.mark.parametrize(
    ("cut", "error"),
    [
        (lambda n, h: 0, age.HeaderError),
        (lambda n, h: 10, age.HeaderError),
        (lambda n, h: h - 5, age.HeaderError),
        (lambda n, h: h, age.HeaderError),  # nonce missing
        (lambda n, h: h + 8, age.HeaderError),  # nonce short
        (lambda n, h: h + 16, age.PayloadTruncated),  # no chunk at all
        (lambda n, h: h + 16 + 10, age.PayloadTruncated),  # shorter than a tag
        (lambda n, h: h + 16 + ENC_CHUNK // 2, age.PayloadError),  # mid-chunk
        (lambda n, h: h + 16 + ENC_CHUNK, age.PayloadTruncated),  # at a chunk boundary
        (lambda n, h: h + 16 + 2 * ENC_CHUNK, age.PayloadTruncated),
        (lambda n, h: n - 1, age.PayloadError),
    ],
    ids=[
        "empty",
        "in-version-line",
        "in-mac-line",
        "no-nonce",
        "short-nonce",
        "no-chunks",
        "short-chunk",
        "mid-chunk",
        "after-chunk-1",
        "after-chunk-2",
        "last-byte",
    ],
)
def test_truncated_file_raises(
    cut: Callable[[int, int], int],
    error: type[age.AgeError],
    three_chunks: tuple[bytes, bytes],
    identity: str,
) -> None:
    _, sealed = three_chunks
    header_len = age.inspect_header(io.BytesIO(sealed)).length
    exc, _ = _decrypt_error(sealed[: cut(len(sealed), header_len)], [identity])
    assert isinstance(exc, error)


def test_truncation_at_chunk_boundary_has_truncated_code(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    exc, _ = _decrypt_error(sealed[: _payload_offset(sealed) + ENC_CHUNK], [identity])
    assert exc.code == "payload_truncated"


def test_dropped_chunk_raises_payload_error(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    head, chunks = _chunks(sealed)
    exc, _ = _decrypt_error(head + chunks[0] + chunks[2], [identity])
    assert isinstance(exc, age.PayloadError) and exc.code == "payload_corrupt"


def test_reordered_chunks_raise_payload_error(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    head, chunks = _chunks(sealed)
    exc, released = _decrypt_error(head + chunks[1] + chunks[0] + chunks[2], [identity])
    assert isinstance(exc, age.PayloadError)
    assert released == b""


def test_chunk_from_another_file_raises_payload_error(
    three_chunks: tuple[bytes, bytes], identity: str, recipient: str
) -> None:
    _, sealed = three_chunks
    head, chunks = _chunks(sealed)
    _, other = _chunks(age.encrypt_bytes(os.urandom(2 * CHUNK + 100), [recipient]))
    exc, _ = _decrypt_error(head + chunks[0] + other[1] + chunks[2], [identity])
    assert isinstance(exc, age.PayloadError)


def test_bit_flip_in_payload_raises_and_releases_only_earlier_chunks(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    plaintext, sealed = three_chunks
    flipped = bytearray(sealed)
    flipped[_payload_offset(sealed) + 2 * ENC_CHUNK + 40] ^= 0x01
    exc, released = _decrypt_error(bytes(flipped), [identity])
    assert isinstance(exc, age.PayloadError) and exc.code == "payload_corrupt"
    assert released == plaintext[: 2 * CHUNK]


def test_bit_flip_in_nonce_raises_payload_error(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    flipped = bytearray(sealed)
    flipped[_payload_offset(sealed) - 1] ^= 0x80
    exc, released = _decrypt_error(bytes(flipped), [identity])
    assert isinstance(exc, age.PayloadError) and released == b""


def test_trailing_data_after_short_final_chunk_raises(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    exc, _ = _decrypt_error(sealed + b"\x00", [identity])
    assert isinstance(exc, age.PayloadError)


def test_trailing_data_after_full_final_chunk_raises_trailing_data(
    identity: str, recipient: str
) -> None:
    plaintext = os.urandom(2 * CHUNK)
    sealed = age.encrypt_bytes(plaintext, [recipient])
    exc, released = _decrypt_error(sealed + b"junk", [identity])
    assert isinstance(exc, age.TrailingData) and exc.code == "payload_trailing_data"
    assert released == plaintext  # authentic, but the caller must still discard it


def test_wrong_identity_raises_no_identity_match(three_chunks: tuple[bytes, bytes]) -> None:
    _, sealed = three_chunks
    exc, released = _decrypt_error(sealed, [age.generate_identity()[0]])
    assert isinstance(exc, age.NoIdentityMatch) and exc.code == "no_identity_match"
    assert released == b""


def test_bit_flip_in_own_stanza_share_raises_no_identity_match(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    text = bytearray(sealed)
    pos = sealed.index(b"-> X25519 ") + len(b"-> X25519 ") + 5
    text[pos] = ord("A") if text[pos] != ord("A") else ord("B")
    exc, _ = _decrypt_error(bytes(text), [identity])
    assert isinstance(exc, age.NoIdentityMatch)


def test_bit_flip_in_another_stanza_raises_header_mac_error(keys: list[tuple[str, str]]) -> None:
    sealed = age.encrypt_bytes(b"bid", [keys[0][1], keys[1][1]])
    second = sealed.index(b"-> X25519 ", sealed.index(b"-> X25519 ") + 1)
    body = sealed.index(b"\n", second) + 1 + 10  # inside the second stanza's body
    text = bytearray(sealed)
    text[body] = ord("A") if text[body] != ord("A") else ord("B")
    exc, _ = _decrypt_error(bytes(text), [keys[0][0]])
    assert isinstance(exc, age.HeaderMacError) and exc.code == "header_mac_mismatch"


def test_bit_flip_in_mac_raises_header_mac_error(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    text = bytearray(sealed)
    pos = sealed.index(b"\n--- ") + 5 + 20
    text[pos] = ord("A") if text[pos] != ord("A") else ord("B")
    exc, _ = _decrypt_error(bytes(text), [identity])
    assert isinstance(exc, age.HeaderMacError)


def test_added_stanza_raises_header_mac_error(
    three_chunks: tuple[bytes, bytes], identity: str
) -> None:
    _, sealed = three_chunks
    forged = sealed.replace(b"\n---", b"\n-> grease x\nAAAA\n---", 1)
    exc, _ = _decrypt_error(forged, [identity])
    assert isinstance(exc, age.HeaderMacError)


def _edit(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def apply(sealed: bytes) -> bytes:
        assert old in sealed
        return sealed.replace(old, new, 1)

    return apply


def _edit_share(transform: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def apply(sealed: bytes) -> bytes:
        start = sealed.index(b"-> X25519 ") + len(b"-> X25519 ")
        end = sealed.index(b"\n", start)
        return sealed[:start] + transform(sealed[start:end]) + sealed[end:]

    return apply


def _edit_body(transform: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def apply(sealed: bytes) -> bytes:
        start = sealed.index(b"\n", sealed.index(b"-> X25519 ")) + 1
        end = sealed.index(b"\n", start)
        return sealed[:start] + transform(sealed[start:end]) + sealed[end:]

    return apply


def _last_char_bumped(s: bytes) -> bytes:
    # The last character of a 32-byte value carries 2 unused bits; setting one makes it
    # non-canonical without changing the decoded bytes.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return s[:-1] + bytes([alphabet[alphabet.index(s[-1]) | 1]])


MALFORMED_HEADERS: list[Any] = [
    pytest.param(lambda s: b"", age.HeaderError, id="empty-input"),
    pytest.param(lambda s: os.urandom(4096), age.HeaderError, id="random-bytes"),
    pytest.param(_edit(b"/v1\n", b"/v2\n"), age.UnsupportedVersion, id="version-v2"),
    pytest.param(_edit(b"/v1\n", b"/v1\r\n"), age.HeaderError, id="crlf-version-line"),
    pytest.param(lambda s: s.replace(b"\n", b"\r\n", 3), age.HeaderError, id="crlf-lines"),
    pytest.param(_edit(b"age-", b" age-"), age.HeaderError, id="leading-space"),
    pytest.param(_edit(b"-> X25519 ", b"->  X25519 "), age.HeaderError, id="double-space"),
    pytest.param(_edit(b"-> X25519 ", b"->X25519 "), age.HeaderError, id="no-space-after-arrow"),
    pytest.param(_edit(b"-> X25519 ", b"-> X25519 extra "), age.HeaderError, id="extra-arg"),
    pytest.param(_edit_share(lambda s: s + b"="), age.HeaderError, id="share-padded"),
    pytest.param(_edit_share(_last_char_bumped), age.HeaderError, id="share-non-canonical"),
    pytest.param(_edit_share(lambda s: s[:-4]), age.HeaderError, id="share-short"),
    pytest.param(_edit_body(lambda s: s + b"AAAA"), age.HeaderError, id="body-long"),
    pytest.param(_edit_body(lambda s: s + b"A" * 30), age.HeaderError, id="body-line-too-long"),
    pytest.param(_edit_body(lambda s: s[:-1] + b"!"), age.HeaderError, id="body-bad-char"),
    pytest.param(_edit_body(_last_char_bumped), age.HeaderError, id="body-non-canonical"),
    pytest.param(_edit_body(lambda s: s[:20] + b"\n" + s[20:]), age.HeaderError, id="body-2-short"),
    pytest.param(_edit(b"\n--- ", b"\n---"), age.HeaderError, id="mac-no-space"),
    pytest.param(_edit(b"\n--- ", b"\n---  "), age.HeaderError, id="mac-double-space"),
    pytest.param(_edit(b"\n--- ", b"\n-- "), age.HeaderError, id="mac-bad-prefix"),
    pytest.param(_edit(b"\n--- ", b"\n--- A"), age.HeaderError, id="mac-long"),
    pytest.param(
        lambda s: s.replace(b"\n", b" \n", s[:300].count(b"\n")),
        age.HeaderError,
        id="trailing-spaces",
    ),
    pytest.param(
        lambda s: s[: s.index(b"-> ")] + s[s.index(b"---") :],
        age.HeaderError,
        id="no-stanzas",
    ),
    pytest.param(
        _edit(b"\n---", b"\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 10\n" + b"A" * 43 + b"\n---"),
        age.HeaderError,
        id="scrypt-not-alone",
    ),
]


@pytest.mark.parametrize(("mutate", "error"), MALFORMED_HEADERS)
def test_malformed_header_raises_header_error(
    mutate: Callable[[bytes], bytes],
    error: type[age.HeaderError],
    three_chunks: tuple[bytes, bytes],
    identity: str,
) -> None:
    _, sealed = three_chunks
    exc, released = _decrypt_error(mutate(sealed), [identity])
    assert isinstance(exc, error) and not isinstance(exc, age.HeaderMacError)
    assert released == b""


@pytest.mark.parametrize(("mutate", "error"), MALFORMED_HEADERS)
def test_inspect_header_rejects_malformed_header(
    mutate: Callable[[bytes], bytes],
    error: type[age.HeaderError],
    three_chunks: tuple[bytes, bytes],
) -> None:
    _, sealed = three_chunks
    with pytest.raises(error):
        age.inspect_header(io.BytesIO(mutate(sealed)))


def test_low_order_share_raises_header_error(identity: str, recipient: str) -> None:
    sealed = age.encrypt_bytes(b"x", [recipient])
    zero_share = _b64(bytes(32))
    forged = _edit_share(lambda s: zero_share)(sealed)
    exc, _ = _decrypt_error(forged, [identity])
    assert type(exc) is age.HeaderError


def test_header_limit_raises_header_too_large(identity: str, recipient: str) -> None:
    sealed = age.encrypt_bytes(b"x", [recipient])
    grease = b"-> grease\n" + (b"A" * 64 + b"\n") * (age.MAX_HEADER_SIZE // 65 + 10) + b"\n"
    forged = sealed.replace(b"---", grease + b"---", 1)
    src = io.BytesIO(forged)
    with pytest.raises(age.HeaderTooLarge) as info:
        age.inspect_header(src)
    assert info.value.code == "header_too_large"
    assert src.tell() <= age.MAX_HEADER_SIZE + 1
    exc, _ = _decrypt_error(forged, [identity])
    assert isinstance(exc, age.HeaderTooLarge)


# --- chunk-flag rules, on files built by the independent encoder above -----------------------


def test_independently_built_file_decrypts(identity: str, recipient: str) -> None:
    a, b = os.urandom(CHUNK), os.urandom(5)
    assert age.decrypt_bytes(_craft(recipient, [(a, False), (b, True)]), [identity]) == a + b


def test_full_chunk_without_last_flag_at_end_raises_truncated(
    identity: str, recipient: str
) -> None:
    exc, released = _decrypt_error(_craft(recipient, [(bytes(CHUNK), False)]), [identity])
    assert isinstance(exc, age.PayloadTruncated)
    assert released == bytes(CHUNK)


def test_short_final_chunk_without_last_flag_raises(identity: str, recipient: str) -> None:
    exc, released = _decrypt_error(_craft(recipient, [(b"abc", False)]), [identity])
    assert isinstance(exc, age.PayloadError) and released == b""


def test_last_flag_on_a_middle_chunk_raises(identity: str, recipient: str) -> None:
    exc, _ = _decrypt_error(_craft(recipient, [(bytes(CHUNK), True), (b"x", True)]), [identity])
    assert isinstance(exc, age.PayloadError)


def test_short_non_final_chunk_raises(identity: str, recipient: str) -> None:
    exc, _ = _decrypt_error(_craft(recipient, [(b"a" * 100, False), (b"b", True)]), [identity])
    assert isinstance(exc, age.PayloadError)


def test_empty_final_chunk_after_full_chunk_raises(identity: str, recipient: str) -> None:
    exc, _ = _decrypt_error(_craft(recipient, [(bytes(CHUNK), False), (b"", True)]), [identity])
    assert isinstance(exc, age.PayloadError) and exc.code == "payload_corrupt"


def test_empty_payload_as_single_empty_final_chunk_decrypts(identity: str, recipient: str) -> None:
    assert age.decrypt_bytes(_craft(recipient, [(b"", True)]), [identity]) == b""


# --------------------------------------------------------------------------------------------
# Errors


def test_error_codes_are_distinct_and_errors_are_value_errors() -> None:
    classes = [
        age.AgeError,
        age.AgeKeyError,
        age.HeaderError,
        age.HeaderTooLarge,
        age.UnsupportedVersion,
        age.HeaderMacError,
        age.NoIdentityMatch,
        age.PayloadError,
        age.PayloadTruncated,
        age.TrailingData,
    ]
    assert all(issubclass(c, ValueError) and issubclass(c, age.AgeError) for c in classes)
    assert len({c.code for c in classes}) == len(classes)


# --------------------------------------------------------------------------------------------
# Bounded memory


class _Generated(io.RawIOBase):
    """Produces ``size`` pseudo-random bytes on the fly and hashes what it produced."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = hashlib.shake_256(b"evalroom").digest(MIB + 7)
        self._pos = 0
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left, len(self._block) - self._pos)
        view = memoryview(self._block)[self._pos : self._pos + n]
        buffer[:n] = view
        self.sha.update(view)
        self._pos = (self._pos + n) % len(self._block)
        self._left -= n
        return n


class _HashSink(io.RawIOBase):
    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)


def test_encrypt_and_decrypt_200_mib_stream_in_bounded_memory(
    identity: str, recipient: str
) -> None:
    size = 200 * MIB
    source = _Generated(size)
    sink = _HashSink()
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def seal() -> None:
        try:
            with open(write_fd, "wb") as pipe:
                age.encrypt(cast(BinaryIO, source), pipe, [recipient])
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    tracemalloc.start()
    try:
        writer = threading.Thread(target=seal)
        writer.start()
        with open(read_fd, "rb") as pipe:
            age.decrypt(pipe, cast(BinaryIO, sink), [identity])
        writer.join()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not errors
    assert sink.size == size
    assert sink.sha.digest() == source.sha.digest()
    assert peak < 16 * MIB, f"peak traced memory {peak / MIB:.1f} MiB"


# --------------------------------------------------------------------------------------------
# Sealing to a file: the write-behind thread

WRITE_BEHIND = "age-write-behind"


def _write_behind_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WRITE_BEHIND]


class _Watched(_Generated):
    """A generated bid that notes, at each read, whether the write-behind thread is running,
    and can fail with ``error`` once ``fail_after`` bytes have been read."""

    def __init__(
        self, size: int, fail_after: int | None = None, error: Exception | None = None
    ) -> None:
        super().__init__(size)
        self.read = 0
        self.saw_writer = False
        self._fail_after = fail_after
        self._error = error

    def readinto(self, buffer: Any) -> int:
        self.saw_writer = self.saw_writer or bool(_write_behind_threads())
        if self._fail_after is not None and self.read >= self._fail_after:
            assert self._error is not None
            raise self._error
        n = super().readinto(buffer)
        self.read += n
        return n


@needs_pyrage
@pytest.mark.parametrize(("mode", "buffering"), [("wb", -1), ("wb", 0), ("w+b", -1)])
def test_sealing_to_a_file_writes_behind_and_opens_to_the_same_plaintext(
    mode: str, buffering: int, tmp_path: Path, identity: str, recipient: str
) -> None:
    # Twelve ~1 MiB buffers' worth, so the sealer waits for the writer (four buffers at most).
    size = 12 * MIB + 5
    source = _Watched(size)
    path = tmp_path / "bid.age"
    tracemalloc.start()
    try:
        with open(path, mode, buffering=buffering) as dst:
            age.encrypt(cast(BinaryIO, source), cast(BinaryIO, dst), [recipient])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert source.saw_writer
    assert not _write_behind_threads()
    assert peak < 8 * MIB, f"peak traced memory {peak / MIB:.1f} MiB"
    sealed = path.read_bytes()
    assert len(sealed) == age.inspect_header(io.BytesIO(sealed)).length + 16 + size + 193 * 16
    opened = age.decrypt_bytes(sealed, [identity])
    assert hashlib.sha256(opened).digest() == source.sha.digest()
    assert pyrage.decrypt(sealed, [pyrage.x25519.Identity.from_str(identity)]) == opened


def test_sealing_a_small_bid_to_a_file_starts_no_thread(
    tmp_path: Path, identity: str, recipient: str
) -> None:
    source = _Watched(CHUNK + 1)
    with open(tmp_path / "bid.age", "wb") as dst:
        age.encrypt(cast(BinaryIO, source), dst, [recipient])
    assert not source.saw_writer
    opened = age.decrypt_bytes((tmp_path / "bid.age").read_bytes(), [identity])
    assert hashlib.sha256(opened).digest() == source.sha.digest()


def test_a_failed_write_on_the_writer_thread_is_raised_to_the_caller(
    tmp_path: Path, recipient: str
) -> None:
    # A real write failure on a regular file: past RLIMIT_FSIZE, write(2) fails with EFBIG
    # (Python ignores SIGXFSZ), as it would with ENOSPC on a full disk.
    resource = pytest.importorskip("resource")
    source = _Watched(16 * MIB)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 * MIB, hard))
    dst = open(tmp_path / "bid.age", "wb")  # closed below, failing or not
    try:
        with pytest.raises(OSError) as info:
            age.encrypt(cast(BinaryIO, source), dst, [recipient])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        with contextlib.suppress(OSError):  # the flush on closing may fail the same way
            dst.close()
    assert dst.closed
    assert info.value.errno == errno.EFBIG
    assert source.saw_writer
    assert not _write_behind_threads()
    # Sealing stopped soon after the failure: at most the buffers in flight were sealed.
    assert source.read < 3 * MIB + 6 * MIB


def test_a_failed_read_while_writing_behind_stops_the_writer_thread(
    tmp_path: Path, recipient: str
) -> None:
    source = _Watched(16 * MIB, fail_after=5 * MIB, error=ConnectionResetError("upload cut"))
    with open(tmp_path / "bid.age", "wb") as dst, pytest.raises(ConnectionResetError):
        age.encrypt(cast(BinaryIO, source), dst, [recipient])
    assert source.saw_writer
    assert not _write_behind_threads()


# --------------------------------------------------------------------------------------------
# inspect_header


def test_inspect_header_reports_stanzas_and_length(keys: list[tuple[str, str]]) -> None:
    sealed = age.encrypt_bytes(b"bid", [r for _, r in keys[:2]])
    header = age.inspect_header(io.BytesIO(sealed))
    assert header.stanza_types == ("X25519", "X25519")
    assert header.x25519_count == 2
    assert all(len(s.args) == 1 and len(s.body) == 32 for s in header.stanzas)
    assert len(header.mac) == 32
    assert sealed[: header.length].endswith(b"\n")
    assert len(sealed) == header.length + 16 + 3 + 16


@needs_pyrage
def test_inspect_header_counts_x25519_beside_grease() -> None:
    key = pyrage.x25519.Identity.generate()
    header = age.inspect_header(io.BytesIO(pyrage.encrypt(b"bid", [key.to_public()])))
    assert header.x25519_count == 1


@pytest.mark.parametrize("buffering", [0, -1])
def test_inspect_header_consumes_exactly_the_header(
    buffering: int, tmp_path: Path, identity: str, recipient: str
) -> None:
    plaintext = os.urandom(CHUNK + 1)
    path = tmp_path / "bid.age"
    path.write_bytes(age.encrypt_bytes(plaintext, [recipient]))
    with open(path, "rb", buffering=buffering) as src:
        header = age.inspect_header(src)
        assert src.tell() == header.length
        src.seek(0)
        out = io.BytesIO()
        age.decrypt(src, out, [identity])
    assert out.getvalue() == plaintext


def test_inspect_header_reads_little_of_a_non_age_file() -> None:
    src = io.BytesIO(b"%PDF-1.7" + b"x" * (10 * MIB))
    with pytest.raises(age.HeaderError):
        age.inspect_header(src)
    assert src.tell() <= 257

"""age v1 file encryption (c2sp.org/age) with X25519 recipients, streaming, on ``cryptography``.

Bids are sealed as standard age files, so any age implementation (``age``, ``rage``,
``pyrage``) can open what this module writes and the other way round.

File format
-----------
An age file is a textual header followed by a binary payload::

    age-encryption.org/v1
    -> X25519 <base64 ephemeral share>
    <base64 body: the 16-byte file key wrapped for one recipient>
    --- <base64 HMAC-SHA-256 of everything above, up to and including "---">
    <16-byte nonce><STREAM-encrypted payload>

* Base64 is the standard alphabet without padding, and must be canonical (unused trailing bits
  zero); stanza bodies are wrapped at exactly 64 columns and always end with a line shorter
  than 64 columns, which may be empty. Anything else is rejected, because a lenient parser
  would let one header have many byte encodings (malleability).
* Each X25519 stanza wraps the random 16-byte file key with ChaCha20-Poly1305 (zero nonce)
  under HKDF-SHA-256(ikm = X25519(ephemeral, recipient), salt = share || recipient,
  info = "age-encryption.org/v1/X25519"). Stanzas of other types are skipped; decryption fails
  with :class:`NoIdentityMatch` only when no identity unwraps any X25519 stanza.
* The header MAC key is HKDF(ikm = file key, salt = empty, info = "header").
* The payload key is HKDF(ikm = file key, salt = nonce, info = "payload"). The plaintext is cut
  into 64 KiB chunks, each sealed with ChaCha20-Poly1305 under the nonce
  ``11-byte big-endian chunk counter || last-chunk flag`` (0x01 on the final chunk only). Only
  the final chunk may be shorter than 64 KiB; it may be empty only if the whole payload is
  empty. A payload that is a whole number of chunks ends with a full chunk carrying the flag.
  Truncation, reordering, re-flagging and trailing data all fail authentication or the
  structural checks.

Out of scope: scrypt (passphrase) and plugin / post-quantum recipients (their stanzas are
ignored like any unknown type), and the ASCII armor.

Bounded memory
--------------
:func:`encrypt` and :func:`decrypt` read the source into one preallocated buffer of eight
chunks plus one look-ahead byte, seal or open each chunk into a second, reused buffer and
write that out, so they use about 1 MiB whatever the file size. The header is read line by
line and limited to :data:`MAX_HEADER_SIZE` bytes. ``dst.write`` is handed memoryviews of
the reused buffers: as the ``io`` contract says, a writer must not keep them after returning.
Large regular files get a helper thread and ~4 MiB of buffers in all instead (opening reads
ahead, sealing writes behind).

Because of that, :func:`decrypt` writes each chunk as soon as it authenticates, before later
chunks are read. **If it raises, whatever it already wrote to ``dst`` must be discarded**: a
file can be cut short, or have a forged tail or trailing data, after chunks that were genuine.
Only a normal return means the whole plaintext is authentic. :func:`decrypt_bytes` returns
nothing unless the whole file authenticates.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import io
import os
import queue
import re
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, ClassVar, NoReturn, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import _bech32

__all__ = [
    "CHUNK_SIZE",
    "MAX_HEADER_SIZE",
    "AgeError",
    "AgeHeader",
    "AgeKeyError",
    "HeaderError",
    "HeaderMacError",
    "HeaderTooLarge",
    "NoIdentityMatch",
    "PayloadError",
    "PayloadTruncated",
    "Stanza",
    "TrailingData",
    "UnsupportedVersion",
    "decrypt",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "generate_identity",
    "inspect_header",
    "to_recipient",
]

VERSION_LINE = b"age-encryption.org/v1"
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
FILE_KEY_SIZE = 16
NONCE_SIZE = 16
COLUMNS = 64
#: Upper bound on the header, so a hostile upload cannot make the parser buffer without end.
#: Real headers are ~150 bytes per X25519 recipient (~1.6 KiB per post-quantum one).
MAX_HEADER_SIZE = 1024 * 1024
# A version line longer than this cannot be age, so a non-age upload fails after a few bytes.
_MAX_VERSION_LINE = 256

_X25519_INFO = b"age-encryption.org/v1/X25519"
_IDENTITY_HRP = "AGE-SECRET-KEY-"
_RECIPIENT_HRP = "age"
_ZERO_NONCE = bytes(12)
# Chunks read per call: fewer, larger reads are measurably faster from files, and the
# buffers stay ~0.5 MiB.
_READ_CHUNKS = 8
# Opening a large regular file reads ahead on a background thread: it fills the next buffer
# of whole encrypted chunks while the main thread authenticates and writes the current one
# (file reads and the AEAD both release the GIL). Two ~4 MiB buffers: measured at 1 GiB,
# 1-2 MiB buffers gained little and 4 MiB ones ~20 % over the single-threaded loop, which
# smaller files and other sources (pipes, sockets, BytesIO) keep using.
_AHEAD_CHUNKS = 64
_AHEAD_BUFFERS = 2
_AHEAD_MIN_SIZE = 2 * _AHEAD_CHUNKS * ENC_CHUNK_SIZE
# Sealing to a regular file writes behind on a background thread, the mirror image: the
# caller's thread seals chunks into one ~1 MiB buffer while the thread writes earlier ones
# (the AEAD and the write system call, where the kernel fills the page cache, both release
# the GIL). Measured file to file (docs/benchmarks.md), the caller's thread then spends
# 0.85-0.90 of raw ChaCha20-Poly1305's CPU time instead of 0.68-0.71. Two 4 MiB buffers
# relieved the caller as much but cost the process more CPU in all (0.310 s against 0.263 s
# at 128 MiB; 1 MiB is likelier still in cache when written), and four buffers let sealing
# run on through a short stall of the writer on a busy machine. The thread starts only once
# a first buffer is full, so a bid smaller than that is written without one. Other
# destinations get the sealed chunks in batches of _READ_CHUNKS, on the caller's thread.
_BEHIND_CHUNKS = 16
_BEHIND_BUFFERS = 4
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/]*")
_LAST = 1


# --- errors -------------------------------------------------------------------------------


class AgeError(ValueError):
    """Base class for every failure to parse, encrypt or decrypt an age file.

    ``code`` is a short stable string for mapping to API error codes.
    """

    code: ClassVar[str] = "age_error"


class AgeKeyError(AgeError):
    """An identity or recipient string is not a valid age X25519 key."""

    code = "invalid_key"


class HeaderError(AgeError):
    """The header is not a well-formed age v1 header."""

    code = "malformed_header"


class HeaderTooLarge(HeaderError):
    """The header exceeds :data:`MAX_HEADER_SIZE`."""

    code = "header_too_large"


class UnsupportedVersion(HeaderError):
    """The file is an age file of a version other than v1."""

    code = "unsupported_version"


class HeaderMacError(HeaderError):
    """The header parsed and a file key was unwrapped, but the header MAC does not match."""

    code = "header_mac_mismatch"


class NoIdentityMatch(AgeError):
    """None of the given identities unwraps any recipient stanza of the file."""

    code = "no_identity_match"


class PayloadError(AgeError):
    """A payload chunk failed authentication or the chunk structure is invalid."""

    code = "payload_corrupt"


class PayloadTruncated(PayloadError):
    """The payload ends before its final chunk."""

    code = "payload_truncated"


class TrailingData(PayloadError):
    """Data follows the final payload chunk."""

    code = "payload_trailing_data"


# --- header model -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its type (first argument), further arguments, and body."""

    type: str
    args: tuple[str, ...]
    body: bytes


@dataclass(frozen=True)
class AgeHeader:
    """A structurally valid age v1 header, as read by :func:`inspect_header`."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    #: Bytes from the start of the file through the newline ending the MAC line; the payload
    #: (16-byte nonce, then chunks) starts at this offset.
    length: int

    @property
    def stanza_types(self) -> tuple[str, ...]:
        return tuple(s.type for s in self.stanzas)

    @property
    def x25519_count(self) -> int:
        """Number of X25519 stanzas (other implementations may add random 'grease' stanzas)."""
        return sum(1 for s in self.stanzas if s.type == "X25519")


# --- keys ---------------------------------------------------------------------------------


def generate_identity() -> tuple[str, str]:
    """Return a new ``(identity, recipient)``: ``AGE-SECRET-KEY-1…`` and ``age1…``."""
    key = X25519PrivateKey.generate()
    identity = _bech32.encode(_IDENTITY_HRP, key.private_bytes_raw()).upper()
    recipient = _bech32.encode(_RECIPIENT_HRP, key.public_key().public_bytes_raw())
    return identity, recipient


def to_recipient(identity: str) -> str:
    """Return the ``age1…`` recipient of an ``AGE-SECRET-KEY-1…`` identity."""
    key = _parse_identity(identity)
    return _bech32.encode(_RECIPIENT_HRP, key.public_key().public_bytes_raw())


def identity_secret(identity: str) -> bytes:
    """The 32 raw secret bytes of an ``AGE-SECRET-KEY-1…`` identity (for k-of-n sharing)."""
    return _parse_identity(identity).private_bytes_raw()


def identity_from_secret(secret: bytes) -> str:
    """The ``AGE-SECRET-KEY-1…`` identity of 32 raw secret bytes."""
    if len(secret) != 32:
        raise AgeKeyError("an X25519 secret is 32 bytes")
    return _bech32.encode(_IDENTITY_HRP, secret).upper()


def _parse_identity(text: str) -> X25519PrivateKey:
    # Messages never quote the input: it is a secret key.
    try:
        hrp, data = _bech32.decode(text)
    except _bech32.Bech32Error as exc:
        raise AgeKeyError(f"identity is not valid Bech32: {exc}") from None
    if hrp != _IDENTITY_HRP or len(data) != 32:
        raise AgeKeyError("identity is not an age X25519 secret key (AGE-SECRET-KEY-1...)")
    return X25519PrivateKey.from_private_bytes(data)


def _parse_recipient(text: str) -> bytes:
    try:
        hrp, data = _bech32.decode(text)
    except _bech32.Bech32Error as exc:
        raise AgeKeyError(f"recipient {text!r} is not valid Bech32: {exc}") from None
    if hrp != _RECIPIENT_HRP or len(data) != 32:
        raise AgeKeyError(f"recipient {text!r} is not an age X25519 recipient (age1...)")
    return data


# --- primitives ---------------------------------------------------------------------------


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=")


def _b64decode(text: bytes, what: str) -> bytes:
    if len(text) % 4 == 1:
        raise HeaderError(f"{what} is not valid base64 (impossible length)")
    try:
        data = binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
    except binascii.Error:
        raise HeaderError(f"{what} is not valid unpadded base64") from None
    # Re-encoding catches padding characters and non-zero unused bits, the two ways one byte
    # string gets more than one encoding.
    if _b64encode(data) != text:
        raise HeaderError(f"{what} is not canonical unpadded base64")
    return data


def _wrap_body(body: bytes) -> bytes:
    encoded = _b64encode(body)
    # range(..., len + 1, ...) yields a final empty line when the body fills whole lines,
    # because the spec ends every body with a short line.
    lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded) + 1, COLUMNS)]
    return b"\n".join(lines) + b"\n"


def _header_mac(file_key: bytes, header_without_mac: bytes) -> bytes:
    mac_key = _hkdf(file_key, b"", b"header")
    return hmac.new(mac_key, header_without_mac, hashlib.sha256).digest()


def _reader(src: BinaryIO) -> Callable[[memoryview], int | None]:
    readinto: Callable[[memoryview], int | None] | None = getattr(src, "readinto", None)
    if readinto is not None:
        return readinto

    def read_copy(view: memoryview) -> int:
        data = src.read(len(view))
        view[: len(data)] = data
        return len(data)

    return read_copy


def _fill(readinto: Callable[[memoryview], int | None], view: memoryview, start: int) -> int:
    """Fill ``view[start:]`` from the source; return the bytes now in ``view`` (< len at EOF)."""
    pos = start
    end = len(view)
    while pos < end:
        got = readinto(view[pos:])
        if got is None:
            raise BlockingIOError("source is non-blocking and has no data ready")
        if got == 0:
            break
        pos += got
    return pos


def _write(write: Callable[[memoryview], object], data: memoryview) -> None:
    written = write(data)
    # Raw (unbuffered) streams may write part of the data; buffered ones return len or None.
    while isinstance(written, int) and written < len(data):
        data = data[written:]
        written = write(data)


# --- header -------------------------------------------------------------------------------


def _read_header(src: BinaryIO) -> tuple[AgeHeader, bytes]:
    """Parse and structurally validate the header; return it and the bytes its MAC covers.

    Reads with ``readline`` only, so the stream is left exactly at the first payload byte.
    """
    lines: list[bytes] = []
    size = 0

    def next_line(limit: int) -> bytes:
        nonlocal size
        line = src.readline(limit + 1)
        if len(line) > limit:
            if not lines:
                raise HeaderError("not an age file: the first line is not an age version line")
            raise HeaderTooLarge(f"age header is larger than {MAX_HEADER_SIZE} bytes")
        if not line.endswith(b"\n"):
            if not lines and not line:
                raise HeaderError("input is empty; not an age file")
            raise HeaderError("file ends inside the age header")
        lines.append(line)
        size += len(line)
        return line[:-1]

    def next_header_line() -> bytes:
        return next_line(MAX_HEADER_SIZE - size)

    version = next_line(_MAX_VERSION_LINE)
    if version == VERSION_LINE + b"\r":
        raise HeaderError("age header lines must end with LF, not CRLF")
    if version != VERSION_LINE:
        if version.startswith(b"age-encryption.org/") and _is_vchars(version):
            raise UnsupportedVersion(
                f"unsupported age format version {version.decode('ascii')!r}; only v1 is supported"
            )
        raise HeaderError("not an age file: missing 'age-encryption.org/v1' version line")

    stanzas: list[Stanza] = []
    while True:
        line = next_header_line()
        if line.startswith(b"-> "):
            stanzas.append(_read_stanza(line, next_header_line, len(stanzas)))
        elif line.startswith(b"---"):
            break
        else:
            raise HeaderError(
                f"unexpected header line {len(lines)}: "
                "expected a stanza ('-> ...') or the MAC line ('--- ...')"
            )

    if line[3:4] != b" " or len(line) != 4 + 43:
        raise HeaderError("malformed MAC line: expected '--- ' and 43 base64 characters")
    mac = _b64decode(line[4:], "header MAC")
    if not stanzas:
        raise HeaderError("age header has no recipient stanzas")
    if any(s.type == "scrypt" for s in stanzas) and len(stanzas) != 1:
        raise HeaderError("an scrypt stanza must be the only stanza in the header")
    # The MAC covers the header up to and including "---". Because parsing above admits only
    # the canonical encoding, the bytes read are exactly what the writer MACed.
    mac_input = b"".join(lines[:-1]) + b"---"
    return AgeHeader(tuple(stanzas), mac, size), mac_input


def _is_vchars(data: bytes) -> bool:
    return bool(data) and all(0x21 <= c <= 0x7E for c in data)


def _read_stanza(first: bytes, next_line: Callable[[], bytes], index: int) -> Stanza:
    where = f"stanza {index + 1}"
    args = first[3:].split(b" ")
    if not all(_is_vchars(a) for a in args):
        raise HeaderError(
            f"{where}: arguments must be non-empty, single-space separated, printable ASCII"
        )
    body_lines: list[bytes] = []
    while True:
        line = next_line()
        if line.startswith((b"-> ", b"---")):
            raise HeaderError(f"{where}: body must end with a line shorter than 64 columns")
        if len(line) > COLUMNS:
            raise HeaderError(f"{where}: body line longer than 64 columns")
        if not _BASE64_LINE.fullmatch(line):
            raise HeaderError(
                f"{where}: body line has a character outside the unpadded base64 alphabet"
            )
        body_lines.append(line)
        if len(line) < COLUMNS:
            break
    body = _b64decode(b"".join(body_lines), f"{where} body")
    stanza = Stanza(args[0].decode("ascii"), tuple(a.decode("ascii") for a in args[1:]), body)
    if stanza.type == "X25519":
        # Checked here rather than at unwrap time so inspect_header rejects them too; the
        # file-key length is checked before any decryption as the spec requires.
        if len(stanza.args) != 1:
            raise HeaderError(f"{where}: X25519 stanza must have exactly one argument")
        if len(_b64decode(args[1], f"{where} X25519 share")) != 32:
            raise HeaderError(f"{where}: X25519 share must be 32 bytes")
        if len(body) != FILE_KEY_SIZE + TAG_SIZE:
            raise HeaderError(f"{where}: X25519 stanza body must be 32 bytes")
    return stanza


def inspect_header(src: BinaryIO) -> AgeHeader:
    """Parse and validate an age header without any key.

    Checks everything that can be checked without a key: version line, stanza syntax,
    canonical base64 and 64-column wrapping, the MAC line, the scrypt-alone rule, and the
    shape of X25519 stanzas (one 32-byte share, 32-byte body). It cannot check the MAC, the
    X25519 shares' orders, or the payload (not even that the 16-byte nonce is there).

    Reads ``src`` line by line with ``readline`` and stops right after the newline that ends
    the MAC line, i.e. it consumes exactly ``AgeHeader.length`` bytes (at most
    :data:`MAX_HEADER_SIZE` + 1 on a header that is too large), leaving ``src`` at the
    payload. Raises :class:`HeaderError` (or a subclass) if the header is malformed.
    """
    return _read_header(src)[0]


def _unwrap_file_key(stanzas: Sequence[Stanza], identities: Sequence[X25519PrivateKey]) -> bytes:
    x25519 = [s for s in stanzas if s.type == "X25519"]
    for key in identities:
        public = key.public_key().public_bytes_raw()
        for stanza in x25519:
            share = _b64decode(stanza.args[0].encode("ascii"), "X25519 share")
            try:
                shared = key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                # X25519 with a low-order point gives the all-zero secret; the spec requires
                # aborting rather than treating it as a non-matching stanza.
                raise HeaderError(
                    "X25519 stanza share is a low-order point (all-zero shared secret)"
                ) from None
            wrap_key = _hkdf(shared, share + public, _X25519_INFO)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, stanza.body, None)
            except InvalidTag:
                continue
    if not x25519:
        kinds = ", ".join(sorted({s.type for s in stanzas}))
        raise NoIdentityMatch(f"the file has no X25519 recipient stanza (stanza types: {kinds})")
    raise NoIdentityMatch(
        f"none of the {len(identities)} identities matches any of the file's "
        f"{len(x25519)} X25519 recipient stanzas"
    )


# --- encryption ---------------------------------------------------------------------------


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Sequence[str]) -> None:
    """Encrypt all of ``src`` to ``dst`` as an age v1 file for the given ``age1…`` recipients.

    Streams in 64 KiB chunks with constant memory. ``dst`` is written but not flushed or
    closed. When ``dst`` is a plain file object on a regular file (what ``open(path, "wb")``
    returns), a helper thread writes it while the next chunks are sealed; it is joined
    before this returns or raises. Raises :class:`AgeKeyError` for an invalid or empty
    recipient list; I/O errors from the streams (a full disk, say) propagate unchanged.
    """
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of strings, not a single string")
    publics = [_parse_recipient(r) for r in recipients]
    if not publics:
        raise AgeKeyError("at least one recipient is required")

    file_key = os.urandom(FILE_KEY_SIZE)
    parts = [VERSION_LINE, b"\n"]
    for public in publics:
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        try:
            shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
        except ValueError:
            raise AgeKeyError("recipient is a low-order X25519 point") from None
        wrap_key = _hkdf(shared, share + public, _X25519_INFO)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        parts += [b"-> X25519 ", _b64encode(share), b"\n", _wrap_body(body)]
    parts.append(b"---")
    header = b"".join(parts)
    mac = _header_mac(file_key, header)
    nonce = os.urandom(NONCE_SIZE)
    write = dst.write
    _write(write, memoryview(header + b" " + _b64encode(mac) + b"\n" + nonce))
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    if _is_regular_file(dst, (io.BufferedWriter, io.BufferedRandom, io.FileIO)):
        with _WriteBehind(write) as behind:
            _seal_payload(aead, _reader(src), behind)
    else:
        _seal_payload(aead, _reader(src), _WriteThrough(write))


def _seal_payload(
    aead: ChaCha20Poly1305, readinto: Callable[[memoryview], int | None], sink: _SealedSink
) -> None:
    # Reads several chunks per call plus one look-ahead byte, which tells whether a chunk is
    # the last without another read: a full chunk followed by EOF is the (full) final chunk.
    # Sealed chunks go straight into the sink's buffer, which it writes out when full.
    buf = bytearray(_READ_CHUNKS * CHUNK_SIZE + 1)
    view = memoryview(buf)
    out = sink.empty()
    seal = aead.encrypt_into
    counter = 0
    pos = 0
    at = 0
    n = _fill(readinto, view, 0)
    while True:
        if n - pos > CHUNK_SIZE:
            end = at + ENC_CHUNK_SIZE
            seal(
                (counter << 8).to_bytes(12, "big"), view[pos : pos + CHUNK_SIZE], None, out[at:end]
            )
            pos += CHUNK_SIZE
            counter += 1
            if end == len(out):
                out = sink.full(out)
                at = 0
            else:
                at = end
        elif n == len(buf):
            rest = n - pos
            buf[:rest] = buf[pos:n]
            pos = 0
            n = _fill(readinto, view, rest)
        else:
            break
    end = at + n - pos + TAG_SIZE
    seal(((counter << 8) | _LAST).to_bytes(12, "big"), view[pos:n], None, out[at:end])
    sink.last(out[:end])


class _SealedSink(Protocol):
    """Where :func:`_seal_payload` puts sealed chunks: it fills buffers the sink lends it."""

    def empty(self) -> memoryview:
        """The first buffer to fill; its length is a whole number of sealed chunks."""
        ...

    def full(self, view: memoryview) -> memoryview:
        """Write out ``view``, which is full; return the next buffer to fill."""
        ...

    def last(self, view: memoryview) -> None:
        """Write out ``view``, the start of a buffer, which ends the payload."""
        ...


class _WriteThrough:
    """Writes each buffer as soon as it is full, on the caller's thread, and reuses it."""

    def __init__(self, write: Callable[[memoryview], object]) -> None:
        self._write = write

    def empty(self) -> memoryview:
        return memoryview(bytearray(_READ_CHUNKS * ENC_CHUNK_SIZE))

    def full(self, view: memoryview) -> memoryview:
        _write(self._write, view)
        return view

    def last(self, view: memoryview) -> None:
        _write(self._write, view)


class _WriteBehind:
    """A background thread writing full buffers with ``write``, in order, while the caller
    fills the next one.

    Use as a context manager: leaving it (normally or by an exception) stops and joins the
    thread. At most ``_BEHIND_BUFFERS`` buffers ever exist; when all are full, ``full``
    waits for the thread to finish one (back-pressure). An exception raised by ``write`` on
    the thread is raised again in the caller, by the ``full`` or ``last`` that follows it,
    and nothing more is written. The thread starts with the first full buffer, so a payload
    that fits in one buffer is written by ``last`` on the caller's thread.
    """

    def __init__(self, write: Callable[[memoryview], object]) -> None:
        self._write = write
        self._full: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._free: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._buffers = 0
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="age-write-behind", daemon=True)

    def __enter__(self) -> _WriteBehind:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread.is_alive():
            self._stopping = True
            self._full.put(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            while (view := self._full.get()) is not None and not self._stopping:
                _write(self._write, view)
                self._free.put(view)
        except BaseException as exc:  # handed to the caller's thread, which raises it
            self._error = exc
            self._free.put(None)  # wakes the caller if it waits for a buffer

    def _new_buffer(self) -> memoryview:
        self._buffers += 1
        return memoryview(bytearray(_BEHIND_CHUNKS * ENC_CHUNK_SIZE))

    def empty(self) -> memoryview:
        return self._new_buffer()

    def full(self, view: memoryview) -> memoryview:
        if self._error is not None:
            self._raise()
        if self._thread.ident is None:
            self._thread.start()
        self._full.put(view)
        if self._buffers < _BEHIND_BUFFERS:
            return self._new_buffer()
        following = self._free.get()
        if following is None:
            self._raise()
        return following

    def last(self, view: memoryview) -> None:
        if self._thread.ident is None:
            _write(self._write, view)
            return
        self._full.put(view)
        self._full.put(None)
        self._thread.join()
        if self._error is not None:
            self._raise()

    def _raise(self) -> NoReturn:
        error, self._error = self._error, None
        assert error is not None
        # Raised once, from here; the thread's frames stay in its traceback.
        raise error


# --- decryption ---------------------------------------------------------------------------


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Sequence[str]) -> None:
    """Decrypt the age file in ``src`` to ``dst`` with any of the given identities.

    Streams in 64 KiB chunks with constant memory. Each chunk is written to ``dst`` only after
    it authenticates, but the file as a whole is authentic only if this returns normally:

    **On any exception, discard everything written to dst.** Plaintext written before a later
    chunk fails (truncation, forged or corrupt tail, trailing data) is not a valid decryption
    of the file. Use :func:`decrypt_bytes`, or write to a temporary file and move it into
    place only on success.

    Raises :class:`AgeKeyError` (bad identity string), :class:`HeaderError` and its
    subclasses (malformed header, :class:`HeaderMacError` for a MAC mismatch),
    :class:`NoIdentityMatch`, or :class:`PayloadError` and its subclasses. I/O errors from
    the streams propagate unchanged.
    """
    if isinstance(identities, str):
        raise TypeError("identities must be a sequence of strings, not a single string")
    keys = [_parse_identity(i) for i in identities]
    if not keys:
        raise AgeKeyError("at least one identity is required")

    header, mac_input = _read_header(src)
    file_key = _unwrap_file_key(header.stanzas, keys)
    if not hmac.compare_digest(_header_mac(file_key, mac_input), header.mac):
        raise HeaderMacError("header MAC does not match: the header was modified")
    nonce = _read_nonce(src)
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    write = dst.write
    readinto = _read_ahead_source(src)
    if readinto is None:
        _open_payload(aead, _reader(src), write)
    else:
        with _ReadAhead(readinto) as ahead:
            _open_payload_ahead(aead, ahead, write)


def _read_nonce(src: BinaryIO) -> bytes:
    nonce = b""
    while len(nonce) < NONCE_SIZE:
        more = src.read(NONCE_SIZE - len(nonce))
        if not more:
            # The reference implementation and the test vectors count this as a header error.
            raise HeaderError("file ends before the 16-byte payload nonce")
        nonce += more
    return nonce


def _open_payload(
    aead: ChaCha20Poly1305,
    readinto: Callable[[memoryview], int | None],
    write: Callable[[memoryview], object],
) -> None:
    # As in sealing, one look-ahead byte says whether more data follows a chunk, so the
    # expected case costs one AEAD call per chunk and the last-chunk flag is tried first only
    # where it can be right.
    buf = bytearray(_READ_CHUNKS * ENC_CHUNK_SIZE + 1)
    view = memoryview(buf)
    out = memoryview(bytearray(CHUNK_SIZE))
    open_ = aead.decrypt_into
    counter = 0
    pos = 0
    n = _fill(readinto, view, 0)
    while True:
        if n - pos > ENC_CHUNK_SIZE:
            chunk = view[pos : pos + ENC_CHUNK_SIZE]
            try:
                open_((counter << 8).to_bytes(12, "big"), chunk, None, out)
            except InvalidTag:
                _fail_full_chunk(aead, counter, chunk, out, write, at_eof=False)
            _write(write, out)
            pos += ENC_CHUNK_SIZE
            counter += 1
        elif n == len(buf):
            # Buffer used up but not at EOF: keep the unprocessed tail (usually the single
            # look-ahead byte) and refill behind it.
            rest = n - pos
            buf[:rest] = buf[pos:n]
            pos = 0
            n = _fill(readinto, view, rest)
        else:
            break

    _open_final(aead, counter, view[pos:n], out, write)


def _open_final(
    aead: ChaCha20Poly1305,
    counter: int,
    final: memoryview,
    out: memoryview,
    write: Callable[[memoryview], object],
) -> None:
    """Authenticate and write ``final``, the chunk the payload ends with."""
    n = len(final)
    if n == 0:
        raise PayloadTruncated("the payload has no chunks: the file is truncated after the nonce")
    if n < TAG_SIZE:
        raise PayloadTruncated(
            f"final chunk {counter} is shorter than its 16-byte tag: the file is truncated"
        )
    size = n - TAG_SIZE
    try:
        aead.decrypt_into(((counter << 8) | _LAST).to_bytes(12, "big"), final, None, out[:size])
    except InvalidTag:
        if n == ENC_CHUNK_SIZE:
            _fail_full_chunk(aead, counter, final, out, write, at_eof=True)
        raise PayloadError(
            f"chunk {counter} failed authentication as the final chunk: "
            "the payload is corrupt or truncated"
        ) from None
    if size == 0 and counter > 0:
        raise PayloadError("the final chunk is empty, which only an empty payload may have")
    _write(write, out[:size])


def _read_ahead_source(src: BinaryIO) -> Callable[[memoryview], int | None] | None:
    """Return ``src.readinto`` if reading ahead pays off: a plain, large regular file."""
    files = (io.BufferedReader, io.BufferedRandom, io.FileIO)
    if not isinstance(src, files) or not _is_regular_file(src, files):
        return None
    try:
        remaining = os.fstat(src.fileno()).st_size - src.tell()
    except (OSError, ValueError):
        return None
    return src.readinto if remaining >= _AHEAD_MIN_SIZE else None


def _is_regular_file(stream: BinaryIO, classes: tuple[type, ...]) -> bool:
    """Whether a helper thread may read or write ``stream``: an instance of one of the
    standard file ``classes`` (not a subclass, so no overridden method runs on the thread)
    open on a regular file, whose reads and writes never block indefinitely, so the thread
    can always be joined."""
    if type(stream) not in classes:
        return False
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


class _ReadAhead:
    """A background thread filling whole-chunk buffers from ``readinto``, in order.

    Use as a context manager: leaving it (normally or by an exception) stops and joins the
    thread. ``next`` returns the next buffer and its byte count, short only at EOF (after
    which it must not be called again), or raises what the read raised; ``release`` hands a
    buffer back to be refilled. At most ``_AHEAD_BUFFERS`` buffers ever exist.
    """

    def __init__(self, readinto: Callable[[memoryview], int | None]) -> None:
        self._readinto = readinto
        self._free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
        self._ready: queue.SimpleQueue[tuple[memoryview, int] | BaseException] = queue.SimpleQueue()
        for _ in range(_AHEAD_BUFFERS):
            self._free.put(bytearray(_AHEAD_CHUNKS * ENC_CHUNK_SIZE))
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="age-read-ahead", daemon=True)

    def __enter__(self) -> _ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping = True
        self._free.put(None)  # wakes the thread if it waits for a buffer
        self._thread.join()

    def _run(self) -> None:
        try:
            while (buf := self._free.get()) is not None and not self._stopping:
                view = memoryview(buf)
                n = _fill(self._readinto, view, 0)
                self._ready.put((view, n))
                if n < len(view):
                    return
        except BaseException as exc:  # handed to the main thread, which raises it
            self._ready.put(exc)

    def next(self) -> tuple[memoryview, int]:
        item = self._ready.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self, view: memoryview) -> None:
        buf = view.obj
        assert isinstance(buf, bytearray)
        self._free.put(buf)


def _open_payload_ahead(
    aead: ChaCha20Poly1305, ahead: _ReadAhead, write: Callable[[memoryview], object]
) -> None:
    # The same loop as _open_payload over buffers of whole chunks: a buffer's last chunk is
    # final only if the next buffer is empty, so it waits for that buffer (read meanwhile).
    out = memoryview(bytearray(CHUNK_SIZE))
    open_ = aead.decrypt_into
    counter = 0
    pos = 0
    view, n = ahead.next()
    while True:
        pos = 0
        while n - pos > ENC_CHUNK_SIZE:
            chunk = view[pos : pos + ENC_CHUNK_SIZE]
            try:
                open_((counter << 8).to_bytes(12, "big"), chunk, None, out)
            except InvalidTag:
                _fail_full_chunk(aead, counter, chunk, out, write, at_eof=False)
            _write(write, out)
            pos += ENC_CHUNK_SIZE
            counter += 1
        if n < len(view):
            break  # EOF within this buffer: view[pos:n] is the final chunk
        following, m = ahead.next()
        if m == 0:
            break  # the buffer's last chunk ends the file
        chunk = view[pos:n]
        try:
            open_((counter << 8).to_bytes(12, "big"), chunk, None, out)
        except InvalidTag:
            _fail_full_chunk(aead, counter, chunk, out, write, at_eof=False)
        _write(write, out)
        counter += 1
        ahead.release(view)
        view, n = following, m
    _open_final(aead, counter, view[pos:n], out, write)


def _fail_full_chunk(
    aead: ChaCha20Poly1305,
    counter: int,
    chunk: memoryview,
    out: memoryview,
    write: Callable[[memoryview], object],
    *,
    at_eof: bool,
) -> NoReturn:
    """Explain a full-size chunk that failed under the flag its position implied; always raises.

    If it authenticates under the other flag, it is a genuine chunk in the wrong place: a
    non-final chunk at EOF (truncated file) or a final chunk followed by more data. Either
    way its plaintext is authentic and is released before raising, as the reference
    implementation does (the test vectors' payload hashes count it).
    """
    flag = 0 if at_eof else _LAST
    try:
        aead.decrypt_into(((counter << 8) | flag).to_bytes(12, "big"), chunk, None, out)
    except InvalidTag:
        raise PayloadError(
            f"chunk {counter} failed authentication: the payload is corrupt, reordered or truncated"
        ) from None
    _write(write, out)
    if at_eof:
        raise PayloadTruncated(
            f"the payload ends after non-final chunk {counter}: the file is truncated"
        )
    raise TrailingData(f"data follows the final chunk {counter} of the payload")


# --- in-memory helpers --------------------------------------------------------------------


def encrypt_bytes(data: bytes, recipients: Sequence[str]) -> bytes:
    """Encrypt ``data`` in memory; see :func:`encrypt`."""
    out = io.BytesIO()
    encrypt(io.BytesIO(data), out, recipients)
    return out.getvalue()


def decrypt_bytes(data: bytes, identities: Sequence[str]) -> bytes:
    """Decrypt an age file held in memory; returns plaintext only if the whole file authenticates."""
    out = io.BytesIO()
    decrypt(io.BytesIO(data), out, identities)
    return out.getvalue()

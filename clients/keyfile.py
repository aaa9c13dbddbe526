"""What a participant keeps on its own machine: its key file and, for a bidder, its bid keys.

- The **key file** (参与方密钥文件) holds the participant's Ed25519 signing key::

      {"format": "evalroom-key/1", "user": "<id>",
       "signing_key": "ed25519-secret:…", "public_key": "ed25519:…"}

  The platform admin registers only ``public_key``; the file never leaves the machine.
- A bidder's **bid-keys file** (投标解密密钥), next to the key file as ``<keyfile>.bids.json``,
  holds the per-bid age identity of each sealed envelope, with the hash of the sealed file, so
  that at the opening the client releases the key of exactly the version it submitted. It is
  never uploaded; losing it before the opening means the bid can only be opened by the
  committee fallback, if the tender has one.

Both are written with mode 0600. Creating a file refuses to overwrite an existing one; the
bid-keys file is updated by an atomic replace.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crypto.keys import KeyFormatError, SigningKey

KEY_FORMAT = "evalroom-key/1"
BID_KEYS_FORMAT = "evalroom-bid-keys/1"


class KeyFileError(Exception):
    """A key file cannot be created, read or trusted. ``code`` is one of ``exists``,
    ``missing``, ``unreadable``, ``malformed``, ``mismatch``."""

    def __init__(self, code: str, path: Path, detail: str = "") -> None:
        super().__init__(f"{code}: {path}{': ' + detail if detail else ''}")
        self.code = code
        self.path = path
        self.detail = detail


# -- private JSON files --------------------------------------------------------------------


def create_private_json(path: Path, value: Any) -> None:
    """Write ``value`` to a new file readable by its owner only; refuse to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError("exists", path) from None
    except OSError as exc:
        raise KeyFileError("unreadable", path, exc.strerror or str(exc)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=2)
        f.write("\n")


def replace_private_json(path: Path, value: Any) -> None:
    """Replace ``path`` atomically with ``value`` (mode 0600): a crash leaves the old file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError("missing", path) from None
    except OSError as exc:
        raise KeyFileError("unreadable", path, exc.strerror or str(exc)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError("malformed", path, str(exc)) from None


def is_private(path: Path) -> bool:
    """Whether only the owner may read the file (no group or other permission bits)."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


# -- the participant's key file ------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantKey:
    """A participant's identity on the platform: its user id and Ed25519 signing key."""

    user: str
    signing_key: SigningKey
    path: Path | None = None

    @property
    def public_key(self) -> str:
        return self.signing_key.public.to_string()

    def to_json(self) -> dict[str, str]:
        return {
            "format": KEY_FORMAT,
            "user": self.user,
            "signing_key": self.signing_key.to_string(),
            "public_key": self.public_key,
        }


def create_key_file(path: Path, user: str) -> ParticipantKey:
    """Generate a new signing key for ``user`` and write it to ``path`` (never overwriting)."""
    if not user or len(user) > 64:
        raise KeyFileError("malformed", path, "the user id must be 1 to 64 characters")
    key = ParticipantKey(user, SigningKey.generate(), path)
    save_key_file(path, key)
    return key


def save_key_file(path: Path, key: ParticipantKey) -> None:
    create_private_json(path, key.to_json())


def load_key_file(path: Path) -> ParticipantKey:
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
        raise KeyFileError("malformed", path, f"not an {KEY_FORMAT} file")
    user = data.get("user")
    if not isinstance(user, str) or not user:
        raise KeyFileError("malformed", path, "no user id")
    try:
        signing_key = SigningKey.from_string(str(data.get("signing_key", "")))
    except KeyFormatError as exc:
        raise KeyFileError("malformed", path, str(exc)) from None
    key = ParticipantKey(user, signing_key, path)
    if data.get("public_key") != key.public_key:
        raise KeyFileError("mismatch", path, "public_key is not the signing key's")
    return key


# -- a bidder's bid keys -------------------------------------------------------------------


def bid_keys_path(key_path: Path) -> Path:
    """Where a bidder's bid keys live: next to its key file."""
    return key_path.with_name(key_path.name + ".bids.json")


@dataclass
class BidKey:
    """The per-bid age identity of one sealed envelope."""

    tender: str
    section: str
    envelope: str
    identity: str = field(repr=False)  # secret until the opening
    sealed_sha256: str
    sealed_size: int
    sealed_file: str
    created_at: str
    submitted_seq: int | None = None


@dataclass
class BidKeys:
    """A bidder's bid keys for all tenders, kept in one private file."""

    path: Path
    user: str
    entries: list[BidKey] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, user: str) -> BidKeys:
        """The bid keys at ``path`` (none yet if the file does not exist)."""
        if not path.exists():
            return cls(path, user)
        data = read_json(path)
        if not isinstance(data, dict) or data.get("format") != BID_KEYS_FORMAT:
            raise KeyFileError("malformed", path, f"not an {BID_KEYS_FORMAT} file")
        if data.get("user") != user:
            raise KeyFileError("mismatch", path, f"kept for user {data.get('user')!r}")
        try:
            entries = [BidKey(**entry) for entry in data.get("bids", [])]
        except TypeError as exc:
            raise KeyFileError("malformed", path, str(exc)) from None
        return cls(path, user, entries)

    def save(self) -> None:
        value = {
            "format": BID_KEYS_FORMAT,
            "user": self.user,
            "bids": [asdict(entry) for entry in self.entries],
        }
        if self.path.exists():
            replace_private_json(self.path, value)
        else:
            create_private_json(self.path, value)

    def add(
        self, tender: str, section: str, envelope: str, identity: str, sealed: Path, sha256: str
    ) -> BidKey:
        entry = BidKey(
            tender=tender,
            section=section,
            envelope=envelope,
            identity=identity,
            sealed_sha256=sha256,
            sealed_size=sealed.stat().st_size,
            sealed_file=str(sealed.resolve()),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.entries.append(entry)
        return entry

    def by_sha256(self, sha256: str) -> BidKey | None:
        return next((e for e in self.entries if e.sealed_sha256 == sha256), None)

    def find(
        self, tender: str, section: str, envelope: str, sha256: str | None = None
    ) -> BidKey | None:
        """The key of the envelope: the one sealed into ``sha256`` when it is known (the
        version the platform holds), else the last one submitted, else the last sealed."""
        candidates = [
            e
            for e in self.entries
            if (e.tender, e.section, e.envelope) == (tender, section, envelope)
        ]
        if sha256 is not None:
            exact = [e for e in candidates if e.sealed_sha256 == sha256]
            return exact[-1] if exact else None
        submitted = [e for e in candidates if e.submitted_seq is not None]
        pool = submitted or candidates
        return pool[-1] if pool else None

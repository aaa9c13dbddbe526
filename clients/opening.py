"""What bidders, agencies and keyholders do around the opening, on their own machines.

- The agency makes the tender's opening identity, keeps nothing of it, and hands one share to
  each keyholder: ``make_opening_key``.
- A bidder packs its bid form and documents, seals each envelope to a fresh per-bid key and
  the tender's opening key, and uploads ciphertext only: ``seal_envelope``, ``upload_envelope``.
  The per-bid key stays on the bidder's machine until it releases it at the opening.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from clients.sdk import Client, ClientError, _raise_for
from crypto import age
from crypto.bidpackage import write_package
from crypto.keys import VerifyKey
from crypto.shamir import split_secret

UPLOAD_CHUNK = 1 << 20


def make_opening_key(k: int, n: int) -> tuple[str, list[str]]:
    """A new opening identity for a tender: its public recipient and n shares (k to open)."""
    identity, recipient = age.generate_identity()
    shares = split_secret(age.identity_secret(identity), k, n)
    return recipient, shares


def pack_bid(
    dst: Path,
    form: Mapping[str, Any],
    attachments: Mapping[str, Path | bytes],
    origin: Mapping[str, Any] | None = None,
) -> None:
    """Write the bid package (bid form, the sealing machine's keyed hashes, documents)."""
    with dst.open("wb") as out:
        write_package(out, form, attachments, origin)


def seal_envelope(package: Path, sealed: Path, opening_recipient: str) -> str:
    """Seal a package to a fresh per-bid key and the tender's opening key; return the per-bid
    identity (``AGE-SECRET-KEY-1…``), which the bidder keeps until the opening."""
    identity, recipient = age.generate_identity()
    with package.open("rb") as src, sealed.open("wb") as dst:
        age.encrypt(src, dst, [recipient, opening_recipient])
    return identity


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(UPLOAD_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def upload_envelope(
    client: Client,
    tender: str,
    section: str,
    envelope: str,
    sealed: Path,
    *,
    idempotency_key: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Stream a sealed envelope to the platform; return the ack with its signed receipt.

    The receipt is checked here: the platform's signature and that the hash and size are
    those of the file we sent."""
    if client.token is None:
        await client.login()

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        with sealed.open("rb") as f:
            while chunk := f.read(UPLOAD_CHUNK):
                sent += len(chunk)
                if progress is not None:
                    progress(sent)
                yield chunk

    headers = {
        "authorization": f"Bearer {client.token}",
        "idempotency-key": idempotency_key or client.new_id(),
        "accept-language": client.lang,
    }
    url = f"{client.base_url}/api/tenders/{tender}/bids/{section}/{envelope}"
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=300)) as http:
        response = await http.put(url, content=body(), headers=headers)
    _raise_for(response)
    ack: dict[str, Any] = response.json()
    digest, size = await asyncio.to_thread(lambda: (sha256_file(sealed), sealed.stat().st_size))
    check_receipt(ack["reply"], digest, size)
    return ack


def check_receipt(reply: Mapping[str, Any], sha256: str, size: int) -> None:
    """The receipt is signed by the platform and names exactly what we sent."""
    receipt, sig = reply["receipt"], reply["sig"]
    key = VerifyKey.from_string(reply["platform_key"])
    if not key.verify_json(receipt, sig):
        raise ClientError("bad_receipt", "the receipt's signature does not verify")
    if receipt.get("sha256") != sha256 or receipt.get("size") != size:
        raise ClientError("bad_receipt", "the receipt does not match the envelope sent")

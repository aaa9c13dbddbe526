"""The plaintext of a sealed envelope: a bid package (投标文件包).

A ZIP archive holding ``bid-form.json`` (the machine-readable bid form: the fields the tender
asks for, decimals as strings), the sealing machine's ``evalroom-origin.json`` (keyed hashes
only, ``crypto/origin.py``; absent from older packages) and any attached documents. The read-out and price scoring
take their figures from the form only. Reading works on any seekable binary file, so a large
package never has to fit in memory.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from crypto.origin import ORIGIN_NAME, parse_origin

FORM_NAME = "bid-form.json"
MAX_FORM_BYTES = 256 * 1024


class PackageError(ValueError):
    """The package is not a ZIP with a readable ``bid-form.json``."""

    code = "invalid_package"


def write_package(
    dst: IO[bytes],
    form: Mapping[str, Any],
    attachments: Mapping[str, Path | bytes],
    origin: Mapping[str, Any] | None = None,
) -> None:
    """Write a package: the form, the origin if given, then each attachment (a path streams
    from disk)."""
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(FORM_NAME, json.dumps(dict(form), ensure_ascii=False, sort_keys=True))
        if origin is not None:
            archive.writestr(ORIGIN_NAME, json.dumps(dict(origin), sort_keys=True))
        for name, content in attachments.items():
            if name in (FORM_NAME, ORIGIN_NAME) or name.startswith("/") or ".." in name.split("/"):
                raise PackageError(f"attachment name {name!r} is not allowed")
            if isinstance(content, Path):
                archive.write(content, name)
            else:
                archive.writestr(name, content)


def read_form(src: IO[bytes]) -> tuple[Any, list[str]]:
    """The form's JSON value and the names of the attached documents."""
    try:
        with zipfile.ZipFile(src) as archive:
            names = archive.namelist()
            if FORM_NAME not in names:
                raise PackageError(f"the package has no {FORM_NAME}")
            info = archive.getinfo(FORM_NAME)
            if info.file_size > MAX_FORM_BYTES:
                raise PackageError(f"{FORM_NAME} is larger than {MAX_FORM_BYTES} bytes")
            form = json.loads(archive.read(FORM_NAME).decode("utf-8"))
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
        raise PackageError(f"the package is not readable: {exc}") from None
    return form, [n for n in names if n not in (FORM_NAME, ORIGIN_NAME)]


def read_origin(archive: zipfile.ZipFile) -> dict[str, frozenset[str]] | None:
    """The origin hashes by kind of an open package; None when it has none or they are not
    readable (an origin is evidence, never a condition of the bid)."""
    try:
        info = archive.getinfo(ORIGIN_NAME)
    except KeyError:
        return None
    if info.file_size > MAX_FORM_BYTES:
        return None
    try:
        return parse_origin(json.loads(archive.read(ORIGIN_NAME).decode("utf-8")))
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError):
        return None

"""What the document red flags read from an opened bid package (投标文件特征提取).

For each attached document: its SHA-256 and size; for PDF (``pypdf`` for the metadata,
``pypdfium2`` for the text) and Office Open XML files (``docProps/core.xml``, ``app.xml`` and
a Word document's text through ``zipfile`` and the standard XML parser), its metadata and
text. Every reader is best effort and bounded: a document that cannot be read, or is over the
limits below, still gives its hash and size, never an error, because a red flag must not
depend on a bidder's file being well formed (and a hostile one must not stop the others).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any
from xml.etree import ElementTree

import pypdf
import pypdfium2

from crypto.bidpackage import FORM_NAME, read_origin
from crypto.origin import ORIGIN_NAME

__all__ = ["DocumentFacts", "PackageFacts", "package_facts"]

MAX_TEXT_CHARS = 4_000_000  # per document: a 2,000-page proposal
MAX_XML_BYTES = 64 << 20  # a Word document's main part, uncompressed
MAX_PDF_PAGES = 3000
MAX_PARSED_BYTES = 256 << 20  # larger documents are hashed, not parsed
_READ = 1 << 20
_NS = {
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
}
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OOXML = (".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".pptx", ".pptm")
_TEXT = (".txt", ".md", ".csv")

logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs are the norm, not news


@dataclass(frozen=True)
class DocumentFacts:
    name: str
    sha256: str
    size: int
    metadata: Mapping[str, str]
    text: str


@dataclass(frozen=True)
class PackageFacts:
    form: Any
    origin: dict[str, frozenset[str]] | None
    documents: list[DocumentFacts]


def _resolved(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value


def _pdf_metadata(data: bytes) -> dict[str, str]:
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    info: Mapping[str, Any] = reader.metadata or {}
    found: dict[str, str] = {}
    for key, name in (
        ("/Author", "author"),
        ("/Company", "company"),
        ("/Manager", "manager"),
        ("/CreationDate", "created"),
    ):
        if (value := _resolved(info.get(key))) and str(value).strip():
            found[name] = str(value)
    software = " / ".join(
        str(v) for k in ("/Creator", "/Producer") if (v := _resolved(info.get(k)))
    )
    if software:
        found["software"] = software
    ids = reader.trailer.get("/ID")
    if isinstance(ids, list | pypdf.generic.ArrayObject) and ids:
        first = ids[0]
        raw = first.original_bytes if hasattr(first, "original_bytes") else str(first).encode()
        found["document_id"] = bytes(raw).hex()
    return found


def _pdf_text(data: bytes) -> str:
    doc = pypdfium2.PdfDocument(data)
    try:
        parts: list[str] = []
        total = 0
        for i in range(min(len(doc), MAX_PDF_PAGES)):
            page = doc[i]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            parts.append(text)
            total += len(text)
            if total >= MAX_TEXT_CHARS:
                break
        return "\n".join(parts)[:MAX_TEXT_CHARS]
    finally:
        doc.close()


def _xml(archive: zipfile.ZipFile, name: str, limit: int = 1 << 20) -> ElementTree.Element | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        return None
    return ElementTree.fromstring(archive.read(name))


def _ooxml(data: bytes, name: str) -> tuple[dict[str, str], str]:
    found: dict[str, str] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        core = _xml(archive, "docProps/core.xml")
        if core is not None:
            for path, field in (
                ("dc:creator", "author"),
                ("cp:lastModifiedBy", "last_modified_by"),
                ("dcterms:created", "created"),
            ):
                node = core.find(path, _NS)
                if node is not None and node.text and node.text.strip():
                    found[field] = node.text.strip()
        app = _xml(archive, "docProps/app.xml")
        if app is not None:
            for tag, field in (
                ("Company", "company"),
                ("Manager", "manager"),
                ("Template", "template"),
            ):
                node = app.find(f"ep:{tag}", _NS)
                if node is not None and node.text and node.text.strip():
                    found[field] = node.text.strip()
            parts = [app.find(f"ep:{t}", _NS) for t in ("Application", "AppVersion")]
            software = " ".join(p.text.strip() for p in parts if p is not None and p.text)
            if software:
                found["software"] = software
        text = ""
        if name.lower().endswith((".docx", ".docm", ".dotx")):
            body = _xml(archive, "word/document.xml", MAX_XML_BYTES)
            if body is not None:
                text = "\n".join(
                    "".join(t.text or "" for t in p.iter(f"{_W}t")) for p in body.iter(f"{_W}p")
                )[:MAX_TEXT_CHARS]
    return found, text


def _parsed(name: str) -> bool:
    return name.lower().endswith((".pdf", *_OOXML, *_TEXT))


def _document(name: str, data: bytes) -> DocumentFacts:
    metadata: dict[str, str] = {}
    text = ""
    lower = name.lower()
    try:
        if lower.endswith(".pdf"):
            metadata = _pdf_metadata(data)
            text = _pdf_text(data)
        elif lower.endswith(_OOXML):
            metadata, text = _ooxml(data, name)
        elif lower.endswith(_TEXT):
            text = data[: MAX_TEXT_CHARS * 4].decode("utf-8", errors="replace")[:MAX_TEXT_CHARS]
    except Exception:  # best effort: a document that cannot be read gives its hash only
        pass
    return DocumentFacts(name, hashlib.sha256(data).hexdigest(), len(data), metadata, text)


def package_facts(src: IO[bytes]) -> PackageFacts:
    """The form, the origin hashes and every attached document's facts of a bid package.

    ``src`` is the opened package (a seekable file). Documents are read one at a time."""
    with zipfile.ZipFile(src) as archive:
        form: Any = None
        try:
            form = json.loads(archive.read(FORM_NAME).decode("utf-8"))
        except (KeyError, ValueError):
            form = None
        origin = read_origin(archive)
        documents = []
        for info in archive.infolist():
            if info.is_dir() or info.filename in (FORM_NAME, ORIGIN_NAME):
                continue
            with archive.open(info) as member:
                if info.file_size <= MAX_PARSED_BYTES and _parsed(info.filename):
                    documents.append(_document(info.filename, member.read()))
                    continue
                digest, size = hashlib.sha256(), 0
                while chunk := member.read(_READ):
                    digest.update(chunk)
                    size += len(chunk)
            documents.append(DocumentFacts(info.filename, digest.hexdigest(), size, {}, ""))
    return PackageFacts(form, origin, documents)

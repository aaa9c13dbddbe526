"""Sealing in the browser (clients/web/js/age.js, chacha20poly1305.js, bidkeys.js) on headless
Chromium: the hand-written AEAD against RFC 8439 and ``cryptography``, X25519/HKDF known
answers, age files sealed in the page opened by ``crypto.age``, the ``age`` CLI and pyrage (and
the other way round), tampering refused, a large bid sealed with bounded page memory, and the
per-bid key vault with its backup file.

The page is tests/web/seal.html, served with clients/web by a static server in this module on
the loopback interface only; nothing here needs the node or a database."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.poly1305 import Poly1305

from clients.keyfile import BidKeys
from crypto import _bech32, age
from tests.chromium import launched

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "clients" / "web"
TEST_PAGE = ROOT / "tests" / "web" / "seal.html"
AGE_CLI = shutil.which("age")
TIMEOUT = 30_000  # ms
MIB = 1024 * 1024
# The large seal: 100 MiB by default; EVALROOM_SEAL_MIB lowers it on a slow machine.
BIG_MIB = int(os.environ.get("EVALROOM_SEAL_MIB", "100"))

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)


# --- a loopback static server ----------------------------------------------------------------


@dataclass
class Site:
    url: str
    sink: Path  # where PUT /sink/<name> bodies land


def _handler(sink: Path) -> type[BaseHTTPRequestHandler]:
    types = {".js": "text/javascript", ".html": "text/html", ".css": "text/css"}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _file(self) -> Path | None:
            path = self.path.split("?", 1)[0]
            if path == "/seal.html":
                return TEST_PAGE
            if path.startswith("/app/"):
                target = (WEB / path[len("/app/") :]).resolve()
                if target.is_relative_to(WEB) and target.is_file():
                    return target
            return None

        def do_GET(self) -> None:
            target = self._file()
            if target is None:
                self.send_error(404)
                return
            body = target.read_bytes()
            self.send_response(200)
            self.send_header("content-type", types.get(target.suffix, "application/octet-stream"))
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            name = self.path.removeprefix("/sink/")
            if not name.isidentifier():
                self.send_error(404)
                return
            remaining = int(self.headers["content-length"])
            with (sink / name).open("wb") as out:
                while remaining:
                    piece = self.rfile.read(min(remaining, MIB))
                    if not piece:
                        break
                    out.write(piece)
                    remaining -= len(piece)
            self.send_response(204)
            self.end_headers()

    return Handler


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    sink = tmp_path_factory.mktemp("sink")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(sink))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_address[1]}", sink)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    async with launched(playwright_api) as b:
        yield b


class Page:
    """The test page in one browser context (its own IndexedDB), with console errors kept."""

    def __init__(self, context: Any, page: Any) -> None:
        self.context = context
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )

    async def run(self, script: str, arg: Any = None) -> Any:
        return await self.page.evaluate(script, arg)


async def open_page(browser: Any, site: Site, context: Any = None) -> Page:
    if context is None:
        context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT)
    p = Page(context, page)
    await page.goto(f"{site.url}/seal.html")
    await page.wait_for_selector("body[data-ready=true]", state="attached")
    return p


# Page-side helpers: bytes travel as base64 strings.
B64 = """
const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const toB64 = (u) => { let s = ""; for (const b of u) s += String.fromCharCode(b); return btoa(s); };
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


async def seal_in_page(p: Page, plaintext: bytes, recipients: list[str]) -> bytes:
    sealed = await p.run(
        f"""async ([data, recipients]) => {{ {B64}
          return toB64(await sealing.age.encryptBytes(fromB64(data), recipients));
        }}""",
        [b64(plaintext), recipients],
    )
    return unb64(sealed)


async def page_identity(p: Page) -> tuple[str, str]:
    pair = await p.run("async () => sealing.age.generateIdentity()")
    return pair["identity"], pair["recipient"]


def age_cli(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    assert AGE_CLI is not None
    return subprocess.run([AGE_CLI, *args], input=stdin, capture_output=True, timeout=60)


def need_age_cli() -> None:
    if AGE_CLI is None:
        pytest.skip("the age CLI is not installed (apt-get install age)")


# --- RFC 8439 --------------------------------------------------------------------------------

SUNSCREEN = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    b"future, sunscreen would be it."
)
JABBERWOCKY = (
    b"'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"
    b"All mimsy were the borogoves,\nAnd the mome raths outgrabe."
)
IETF = (
    b"Any submission to the IETF intended by the Contributor for publication as all or part "
    b"of an IETF Internet-Draft or RFC and any statement made within the context of an IETF "
    b'activity is considered an "IETF Contribution". Such statements include oral statements '
    b"in IETF sessions, as well as written and electronic communications made at any time or "
    b"place, which are addressed to"
)
KEY_00_1F = bytes(range(32))
KEY_80_9F = bytes(range(0x80, 0xA0))
KEY_1C92 = bytes.fromhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0")

# (key, counter, nonce, plaintext, ciphertext): sections 2.4.2 and A.2 #3.
CHACHA20_VECTORS = [
    (
        KEY_00_1F,
        1,
        "000000000000004a00000000",
        SUNSCREEN,
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dab"
        "cd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806"
        "818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d",
    ),
    (
        KEY_1C92,
        42,
        "000000000000000000000002",
        JABBERWOCKY,
        "62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf166d3df2d721caf9b21e5fb1"
        "4c616871fd84c54f9d65b283196c7fe4f60553ebf39c6402c42234e32a356b3e764312a61a5532055716ead6"
        "962568f87d3f3f7704c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1",
    ),
]

# (key, message, tag): section 2.5.2 and appendix A.3 #1-#11 (R || S as the key).
POLY1305_VECTORS = [
    (
        "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
        b"Cryptographic Forum Research Group",
        "a8061dc1305136c6c22b8baf0c0127a9",
    ),
    ("00" * 32, bytes(64), "00" * 16),
    ("00" * 16 + "36e5f6b5c5e06070f0efca96227a863e", IETF, "36e5f6b5c5e06070f0efca96227a863e"),
    ("36e5f6b5c5e06070f0efca96227a863e" + "00" * 16, IETF, "f3477e7cd95417af89a6b8794c310cf0"),
    (KEY_1C92.hex(), JABBERWOCKY, "4541669a7eaaee61e708dc7cbcc5eb62"),
    ("02" + "00" * 31, b"\xff" * 16, "03" + "00" * 15),
    ("02" + "00" * 15 + "ff" * 16, bytes.fromhex("02" + "00" * 15), "03" + "00" * 15),
    (
        "01" + "00" * 31,
        bytes.fromhex("ff" * 16 + "f0" + "ff" * 15 + "11" + "00" * 15),
        "05" + "00" * 15,
    ),
    (
        "01" + "00" * 31,
        bytes.fromhex("ff" * 16 + "fb" + "fe" * 15 + "01" * 16),
        "00" * 16,
    ),
    ("02" + "00" * 31, bytes.fromhex("fd" + "ff" * 15), "fa" + "ff" * 15),
    (
        "01" + "00" * 7 + "04" + "00" * 7 + "00" * 16,
        bytes.fromhex(
            "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000"
            + "00" * 16
            + "01"
            + "00" * 15
        ),
        "14000000000000005500000000000000",
    ),
    (
        "01" + "00" * 7 + "04" + "00" * 7 + "00" * 16,
        bytes.fromhex(
            "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000" + "00" * 16
        ),
        "13" + "00" * 15,
    ),
]

AEAD_282 = {
    "key": KEY_80_9F.hex(),
    "nonce": "070000004041424344454647",
    "aad": "50515253c0c1c2c3c4c5c6c7",
    "plaintext": SUNSCREEN.hex(),
    "sealed": "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282"
    "fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6"
    "75945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691",
}

HEX = """
const fromHex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
const toHex = (u) => Array.from(u, (b) => b.toString(16).padStart(2, "0")).join("");
"""


async def test_chacha20_poly1305_meets_rfc_8439_in_the_page(browser: Any, site: Site) -> None:
    assert len(IETF) == 375 and len(SUNSCREEN) == 114
    p = await open_page(browser, site)
    got = await p.run(
        f"""([chacha, poly, aeadVec]) => {{ {HEX}
          const a = sealing.aead;
          const out = {{}};
          out.block = toHex(a.chacha20Block(fromHex("{KEY_00_1F.hex()}"), 1,
                                            fromHex("000000090000004a00000000")));
          out.keygen = toHex(a.chacha20Block(fromHex("{KEY_80_9F.hex()}"), 0,
                                             fromHex("000000000001020304050607")).subarray(0, 32));
          out.chacha = chacha.map(([k, c, n, pt]) => toHex(a.chacha20(fromHex(k), c, fromHex(n), fromHex(pt))));
          out.poly = poly.map(([k, m]) => toHex(a.poly1305(fromHex(k), fromHex(m))));
          const aead = new a.ChaCha20Poly1305(fromHex(aeadVec.key));
          out.sealed = toHex(aead.seal(fromHex(aeadVec.nonce), fromHex(aeadVec.plaintext), fromHex(aeadVec.aad)));
          out.opened = toHex(aead.open(fromHex(aeadVec.nonce), fromHex(aeadVec.sealed), fromHex(aeadVec.aad)));
          // Any flipped bit of ciphertext, tag or aad is refused, before any decryption.
          out.refused = [];
          for (const [part, index] of [["sealed", 0], ["sealed", 113], ["sealed", 114], ["sealed", 129], ["aad", 3]]) {{
            const v = {{ sealed: fromHex(aeadVec.sealed), aad: fromHex(aeadVec.aad) }};
            v[part][index] ^= 1;
            try {{ aead.open(fromHex(aeadVec.nonce), v.sealed, v.aad); out.refused.push("opened"); }}
            catch (e) {{ out.refused.push(e.message); }}
          }}
          try {{ aead.open(fromHex(aeadVec.nonce), new Uint8Array(15)); }} catch (e) {{ out.short = e.message; }}
          return out;
        }}""",
        [
            [[k.hex(), c, n, pt.hex()] for k, c, n, pt, _ in CHACHA20_VECTORS],
            [[k, m.hex()] for k, m, _ in POLY1305_VECTORS],
            AEAD_282,
        ],
    )
    assert got["block"] == (
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
    )
    assert got["keygen"] == "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646"
    assert got["chacha"] == [ct for *_, ct in CHACHA20_VECTORS]
    assert got["poly"] == [tag for *_, tag in POLY1305_VECTORS]
    assert got["sealed"] == AEAD_282["sealed"]
    assert got["opened"] == AEAD_282["plaintext"]
    assert got["refused"] == ["aead_auth_failed"] * 5
    assert got["short"] == "aead_auth_failed"
    assert p.errors == []
    await p.context.close()


async def test_chacha20_poly1305_agrees_with_cryptography_on_random_inputs(
    browser: Any, site: Site
) -> None:
    """Every length around the block and limb boundaries, random keys, nonces and aad."""
    lengths = [*range(300), 1023, 1024, 1025, 4096 + 7, 65536, 65536 + 16]
    cases = []
    for n in lengths:
        key, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
        aad, pt = secrets.token_bytes(n % 37), secrets.token_bytes(n)
        cases.append([key.hex(), nonce.hex(), aad.hex(), pt.hex()])
    # Poly1305 on keys with every r limb saturated: the largest intermediate products.
    poly_cases = [[("ff" * 32), ("ff" * n)] for n in (16, 17, 160, 1000)] + [
        [secrets.token_hex(32), secrets.token_hex(n)] for n in range(0, 100, 7)
    ]
    p = await open_page(browser, site)
    got = await p.run(
        f"""([cases, polys]) => {{ {HEX}
          const a = sealing.aead;
          return {{
            sealed: cases.map(([k, n, aad, pt]) => toHex(new a.ChaCha20Poly1305(fromHex(k)).seal(fromHex(n), fromHex(pt), fromHex(aad)))),
            poly: polys.map(([k, m]) => toHex(a.poly1305(fromHex(k), fromHex(m)))),
          }};
        }}""",
        [cases, poly_cases],
    )
    for (key_hex, nonce_hex, aad_hex, pt_hex), sealed in zip(cases, got["sealed"], strict=True):
        expected = ChaCha20Poly1305(bytes.fromhex(key_hex)).encrypt(
            bytes.fromhex(nonce_hex), bytes.fromhex(pt_hex), bytes.fromhex(aad_hex)
        )
        assert sealed == expected.hex(), f"length {len(pt_hex) // 2}"
    for (poly_key, msg), tag in zip(poly_cases, got["poly"], strict=True):
        assert tag == Poly1305.generate_tag(bytes.fromhex(poly_key), bytes.fromhex(msg)).hex()
    # Raw ChaCha20 at a high block counter agrees too (cryptography: counter || nonce).
    raw_key, raw_nonce = secrets.token_bytes(32), secrets.token_bytes(12)
    got_ct = await p.run(
        f"""([k, n]) => {{ {HEX} return toHex(sealing.aead.chacha20(fromHex(k), 0xfffffffe, fromHex(n), new Uint8Array(128))); }}""",
        [raw_key.hex(), raw_nonce.hex()],
    )
    stream = Cipher(
        algorithms.ChaCha20(raw_key, (0xFFFFFFFE).to_bytes(4, "little") + raw_nonce), None
    )
    assert got_ct == stream.encryptor().update(bytes(128)).hex()
    assert p.errors == []
    await p.context.close()


# --- X25519, HKDF, Bech32 --------------------------------------------------------------------

# RFC 7748 section 6.1.
ALICE_SECRET = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
BOB_SECRET = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
# RFC 5869 test case 1 (the first 32 bytes of its 42-byte OKM).
HKDF_CASE_1 = {
    "ikm": "0b" * 22,
    "salt": "000102030405060708090a0b0c",
    "info": "f0f1f2f3f4f5f6f7f8f9",
    "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf",
}


async def test_x25519_hkdf_and_bech32_known_answers_in_the_page(browser: Any, site: Site) -> None:
    alice_identity = age.identity_from_secret(bytes.fromhex(ALICE_SECRET))
    random_keys = [age.generate_identity() for _ in range(3)]
    payloads = [secrets.token_bytes(n) for n in (0, 1, 20, 32, 33, 64)]
    p = await open_page(browser, site)
    got = await p.run(
        f"""async ([aliceId, keys, hk, payloads]) => {{ {HEX}
          const a = sealing.age;
          const out = {{}};
          out.aliceToBob = toHex(await a.x25519(fromHex("{ALICE_SECRET}"), fromHex("{BOB_PUBLIC}")));
          out.bobToAlice = toHex(await a.x25519(fromHex("{BOB_SECRET}"), fromHex("{ALICE_PUBLIC}")));
          out.aliceRecipient = await a.identityToRecipient(aliceId);
          out.aliceSecret = toHex(a.identitySecret(aliceId));
          out.recipients = await Promise.all(keys.map(([id]) => a.identityToRecipient(id)));
          out.hkdf = toHex(await a.hkdf(fromHex(hk.ikm), fromHex(hk.salt), fromHex(hk.info)));
          out.ageLabels = toHex(await a.hkdf(fromHex(hk.ikm), new Uint8Array(0), "header"));
          out.bech32 = payloads.map((h) => a.bech32Encode("age", fromHex(h)));
          out.decoded = payloads.map((h) => toHex(a.bech32Decode(a.bech32Encode("age", fromHex(h))).data));
          out.refused = [];
          const good = out.recipients[0];
          const bad = [
            good.slice(0, -1) + (good.endsWith("q") ? "p" : "q"),  // checksum
            good.slice(0, 10) + good.slice(10).toUpperCase(),      // mixed case
            "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
            "AGE-SECRET-KEY-1" + good.slice(4).toUpperCase(),      // wrong hrp
          ];
          for (const text of bad) {{
            try {{ a.parseRecipient(text); out.refused.push("accepted"); }}
            catch (e) {{ out.refused.push(e.message); }}
          }}
          try {{ a.identitySecret(good); }} catch (e) {{ out.identityAsRecipient = e.message; }}
          // Low-order points are refused (the all-zero shared secret).
          try {{ await a.encryptBytes(new Uint8Array(1), [a.bech32Encode("age", new Uint8Array(32))]); }}
          catch (e) {{ out.lowOrder = e.message; }}
          return out;
        }}""",
        [alice_identity, [list(k) for k in random_keys], HKDF_CASE_1, [x.hex() for x in payloads]],
    )
    # The RFC's answers, and cryptography's.
    assert got["aliceToBob"] == got["bobToAlice"] == SHARED
    alice = X25519PrivateKey.from_private_bytes(bytes.fromhex(ALICE_SECRET))
    assert (
        alice.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(BOB_PUBLIC))).hex() == SHARED
    )
    assert got["aliceRecipient"] == _bech32.encode("age", bytes.fromhex(ALICE_PUBLIC))
    assert got["aliceSecret"] == ALICE_SECRET
    assert got["recipients"] == [recipient for _, recipient in random_keys]
    assert got["hkdf"] == HKDF_CASE_1["okm"]
    expected_header = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"header").derive(
        bytes.fromhex(HKDF_CASE_1["ikm"])
    )
    assert got["ageLabels"] == expected_header.hex()
    assert got["bech32"] == [_bech32.encode("age", x) for x in payloads]
    assert got["decoded"] == [x.hex() for x in payloads]
    assert got["refused"][0] == got["refused"][1] == "age_recipient_invalid"
    assert got["refused"][2:] == ["age_recipient_invalid"] * 2
    assert got["identityAsRecipient"] == "age_identity_invalid"
    assert got["lowOrder"] == "age_low_order"
    assert p.errors == []
    await p.context.close()


# --- interop ---------------------------------------------------------------------------------

SIZES = [0, 1, 1000, 65535, 65536, 65537, 2 * 65536, 3 * 65536 + 12345]


async def test_files_sealed_in_the_page_open_with_crypto_age_the_cli_and_pyrage(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    opening_identity, opening_recipient = age.generate_identity()
    p = await open_page(browser, site)
    bid_identity, bid_recipient = await page_identity(p)
    assert age.to_recipient(bid_identity) == bid_recipient
    try:
        import pyrage  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - pyrage is in the test extra
        pyrage = None
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# opening key\n{opening_identity}\n")
    for size in SIZES:
        plaintext = secrets.token_bytes(size)
        sealed = await seal_in_page(p, plaintext, [bid_recipient, opening_recipient])
        header = age.inspect_header(io.BytesIO(sealed))
        assert header.stanza_types == ("X25519", "X25519")
        # Sealed size: header, 16-byte nonce, then each 64 KiB chunk plus a 16-byte tag.
        chunks = max(1, -(-size // age.CHUNK_SIZE))
        assert len(sealed) == header.length + 16 + size + 16 * chunks
        assert age.decrypt_bytes(sealed, [opening_identity]) == plaintext
        assert age.decrypt_bytes(sealed, [bid_identity]) == plaintext
        if AGE_CLI is not None:
            result = age_cli("-d", "-i", str(key_file), stdin=sealed)
            assert result.returncode == 0, result.stderr.decode()
            assert result.stdout == plaintext
        if pyrage is not None:
            ident = pyrage.x25519.Identity.from_str(bid_identity)
            assert pyrage.decrypt(sealed, [ident]) == plaintext
    # A plain (not byte) stream with pieces straddling the 64 KiB chunks, sealed through
    # sealedReadable: the re-chunking path and the streaming output.
    pieces = [1, 65534, 3, 70000, 0, 2 * 65536 + 5, 65536]
    plaintext = secrets.token_bytes(sum(pieces))
    streamed = await p.run(
        f"""async ([data, pieces, recipients]) => {{ {B64}
          const bytes = fromB64(data);
          let at = 0;
          const source = new ReadableStream({{
            pull(controller) {{
              if (pieces.length === 0) {{ controller.close(); return; }}
              const n = pieces.shift();
              controller.enqueue(bytes.slice(at, at + n));
              at += n;
            }},
          }});
          const out = sealing.age.sealedReadable(source, recipients);
          return toB64(new Uint8Array(await new Response(out).arrayBuffer()));
        }}""",
        [b64(plaintext), pieces, [opening_recipient]],
    )
    assert age.decrypt_bytes(unb64(streamed), [opening_identity]) == plaintext
    if AGE_CLI is None:
        pytest.skip("sealed files opened by crypto.age and pyrage; the age CLI is not installed")
    assert p.errors == []
    await p.context.close()


async def test_an_identity_made_in_the_page_opens_files_sealed_by_python_and_the_cli(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    """The page's AGE-SECRET-KEY-1 string is a real age identity, not just self-consistent."""
    p = await open_page(browser, site)
    identity, recipient = await page_identity(p)
    assert identity.startswith("AGE-SECRET-KEY-1") and recipient.startswith("age1")
    plaintext = secrets.token_bytes(70_000)
    by_python = age.encrypt_bytes(plaintext, [recipient])
    assert age.decrypt_bytes(by_python, [identity]) == plaintext
    need_age_cli()
    by_cli = age_cli("-r", recipient, stdin=plaintext)
    assert by_cli.returncode == 0, by_cli.stderr.decode()
    assert age.decrypt_bytes(by_cli.stdout, [identity]) == plaintext
    key_file = tmp_path / "bid.txt"
    key_file.write_text(identity + "\n")
    opened = age_cli("-d", "-i", str(key_file), stdin=by_python)
    assert opened.returncode == 0 and opened.stdout == plaintext
    await p.context.close()


async def test_a_page_sealed_file_that_was_altered_is_refused(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    identity, recipient = age.generate_identity()
    p = await open_page(browser, site)
    plaintext = secrets.token_bytes(3 * 65536 + 100)
    sealed = await seal_in_page(p, plaintext, [recipient])
    head = age.inspect_header(io.BytesIO(sealed)).length
    payload = head + 16
    enc = age.CHUNK_SIZE + 16

    def flip(data: bytes, at: int) -> bytes:
        out = bytearray(data)
        out[at] ^= 0x01
        return bytes(out)

    def flip_b64(data: bytes, start: int, length: int) -> bytes:
        """Alter the bytes a base64 field encodes, keeping it valid, canonical base64."""
        field = bytearray(base64.b64decode(data[start : start + length] + b"=="))
        field[len(field) // 2] ^= 0x01
        encoded = base64.b64encode(bytes(field)).rstrip(b"=")
        assert len(encoded) == length
        return data[:start] + encoded + data[start + length :]

    stanza_body = sealed.index(b"\n", sealed.index(b"-> X25519")) + 1
    mac = sealed.index(b"--- ") + 4
    chunk0 = sealed[payload : payload + enc]
    chunk1 = sealed[payload + enc : payload + 2 * enc]
    altered = {
        "stanza body": (flip_b64(sealed, stanza_body, 43), age.NoIdentityMatch),
        "header MAC": (flip_b64(sealed, mac, 43), age.HeaderMacError),
        "payload nonce": (flip(sealed, head + 3), age.PayloadError),
        "first chunk": (flip(sealed, payload + 10), age.PayloadError),
        "last tag": (flip(sealed, len(sealed) - 1), age.PayloadError),
        "cut inside the last chunk": (sealed[:-40], age.PayloadError),
        "last chunk dropped": (sealed[: payload + 3 * enc], age.PayloadTruncated),
        "data appended": (sealed + b"\x00", age.PayloadError),
        "chunks swapped": (
            sealed[:payload] + chunk1 + chunk0 + sealed[payload + 2 * enc :],
            age.PayloadError,
        ),
    }
    assert age.decrypt_bytes(sealed, [identity]) == plaintext
    key_file = tmp_path / "key.txt"
    key_file.write_text(identity + "\n")
    for what, (data, error) in altered.items():
        with pytest.raises(error):
            age.decrypt_bytes(data, [identity])
        if AGE_CLI is not None:
            assert age_cli("-d", "-i", str(key_file), stdin=data).returncode != 0, what
    assert p.errors == []
    await p.context.close()


# --- a large bid, streamed -------------------------------------------------------------------


def _heap_total(usage: dict[str, Any]) -> int:
    """JS heap in use plus ArrayBuffer backing stores (where chunk buffers live)."""
    return int(usage["usedSize"]) + int(usage.get("backingStorageSize", 0))


async def test_a_large_bid_seals_in_the_page_with_progress_in_bounded_memory(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    size = BIG_MIB * MIB + 12345  # not a whole number of chunks
    source = tmp_path / "bid.zip"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        block = secrets.token_bytes(MIB)
        for i in range(size // MIB + 1):
            piece = (block[i % 251 :] + block[: i % 251])[: min(MIB, size - i * MIB)]
            out.write(piece)
            digest.update(piece)
    opening_identity, opening_recipient = age.generate_identity()

    p = await open_page(browser, site)
    cdp = await p.context.new_cdp_session(p.page)
    await cdp.send("HeapProfiler.enable")
    await cdp.send("HeapProfiler.collectGarbage")
    baseline = await cdp.send("Runtime.getHeapUsage")
    assert "backingStorageSize" in baseline, "this Chromium reports no ArrayBuffer memory"
    samples: list[int] = []
    sealing_done = False
    late: list[int] = []

    async def heap_sample() -> None:
        usage = _heap_total(await cdp.send("Runtime.getHeapUsage"))
        (late if sealing_done else samples).append(usage)

    await p.page.expose_function("heapSample", heap_sample)
    await p.page.set_input_files("#bid-file", str(source))
    result = await p.run(
        """async ([opening]) => {
          const file = document.getElementById("bid-file").files[0];
          const bar = document.getElementById("seal-progress");
          const progress = [];
          let next = 0;
          const t0 = performance.now();
          const sealed = await sealing.bidkeys.sealEnvelope(
            file, opening, { tender: "BIG-1", section: "S1", envelope: "single" },
            (done, total) => {
              progress.push([done, total]);
              bar.value = Math.floor((100 * done) / total);
              if (done >= next) { next = done + 2 * 1024 * 1024; window.heapSample(); }
            });
          const seconds = (performance.now() - t0) / 1000;
          window.sealed = sealed;
          return {
            seconds, sha256: sealed.sha256, size: sealed.size,
            recipient: sealed.recipient, calls: progress.length, first: progress[0],
            last: progress[progress.length - 1],
            monotonic: progress.every((p, i) => i === 0 || p[0] >= progress[i - 1][0]),
            bar: bar.value,
          };
        }""",
        [opening_recipient],
    )
    sealing_done = True
    upload = await p.run(
        """async () => {
          const t0 = performance.now();
          const put = await fetch("/sink/big", { method: "PUT", body: window.sealed.blob });
          window.sealed = null;
          return { status: put.status, seconds: (performance.now() - t0) / 1000 };
        }"""
    )
    # The probe sees whole-file reads: holding the file in one ArrayBuffer shows up in it.
    await p.run(
        "async () => { window.whole = await document.getElementById('bid-file').files[0].arrayBuffer(); }"
    )
    whole = _heap_total(await cdp.send("Runtime.getHeapUsage"))
    await p.run("() => { window.whole = null; }")

    base = _heap_total(baseline)
    peak = max(samples)
    mib_s = size / MIB / result["seconds"]
    print(
        f"\nsealed {size / MIB:.1f} MiB in the page in {result['seconds']:.1f} s "
        f"({mib_s:.1f} MiB/s, SHA-256 of the output included), upload {upload['seconds']:.1f} s; "
        f"page heap + ArrayBuffers: baseline {base / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB over "
        f"{len(samples)} samples while sealing ({len(late)} late); holding the file whole: "
        f"{whole / MIB:.1f} MiB; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    assert upload["status"] == 204
    assert result["calls"] > 10 and result["monotonic"]
    assert result["first"][1] == size and result["last"] == [size, size]
    assert result["bar"] == 100
    # Most samples were answered while the seal ran (it yields to the page every 1 MiB).
    assert len(samples) >= BIG_MIB // 4, (len(samples), len(late))
    assert whole - base >= size, "the heap probe does not see ArrayBuffer memory"
    assert peak - base < min(32 * MIB, size // 3), (
        f"page memory grew by {(peak - base) / MIB:.1f} MiB"
    )

    sealed_path = site.sink / "big"
    assert sealed_path.stat().st_size == result["size"]
    with sealed_path.open("rb") as sealed_file:
        assert hashlib.file_digest(sealed_file, "sha256").hexdigest() == result["sha256"]
    # The released per-bid key opens it, as the opening key does.
    bid_identity = await p.run(
        """() => sealing.bidkeys.loadBidKey({ tender: "BIG-1", section: "S1", envelope: "single" })"""
    )
    assert age.to_recipient(bid_identity) == result["recipient"]
    for identity in (bid_identity, opening_identity):
        opened = tmp_path / "opened"
        with sealed_path.open("rb") as src, opened.open("wb") as dst:
            age.decrypt(src, dst, [identity])
        with opened.open("rb") as opened_file:
            assert hashlib.file_digest(opened_file, "sha256").hexdigest() == digest.hexdigest()
        opened.unlink()
    sealed_path.unlink()
    assert p.errors == []
    await p.context.close()


# --- the per-bid key vault and its backup ----------------------------------------------------

SLOT = {"tender": "GS-2026-0117", "section": "S1", "envelope": "single"}


def open_backup(text: str, passphrase: str) -> dict[str, Any]:
    """Decrypt a backup file with nothing but its documented format and `cryptography`."""
    data = json.loads(text)
    assert data["format"] == "evalroom-bid-key-backup/1"
    kdf, cipher = data["kdf"], data["cipher"]
    assert kdf["name"] == "PBKDF2-HMAC-SHA-256" and cipher["name"] == "AES-256-GCM"
    salt = base64.b64decode(kdf["salt"])
    key = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=salt, iterations=kdf["iterations"]
    ).derive(passphrase.encode())
    aad = f"evalroom-bid-key-backup/1\nPBKDF2-HMAC-SHA-256\n{kdf['iterations']}\n{kdf['salt']}"
    plain = AESGCM(key).decrypt(
        base64.b64decode(cipher["iv"]), base64.b64decode(data["ciphertext"]), aad.encode()
    )
    content: dict[str, Any] = json.loads(plain)
    return content


async def test_the_per_bid_key_is_kept_encrypted_backed_up_restored_and_released(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    opening_identity, opening_recipient = age.generate_identity()
    p = await open_page(browser, site)
    bids = [secrets.token_bytes(5000), secrets.token_bytes(70_000)]
    sealed: list[dict[str, Any]] = []
    for plaintext in bids:  # sealed twice into the same envelope: both keys are kept
        sealed.append(
            await p.run(
                f"""async ([data, opening, slot]) => {{ {B64}
                  const r = await sealing.bidkeys.sealEnvelope(new Blob([fromB64(data)]), opening, slot);
                  return {{ ...r, bytes: toB64(new Uint8Array(await r.blob.arrayBuffer())), blob: null }};
                }}""",
                [b64(plaintext), opening_recipient, SLOT],
            )
        )
    for plaintext, s in zip(bids, sealed, strict=True):
        data = unb64(s["bytes"])
        assert hashlib.sha256(data).hexdigest() == s["sha256"] and len(data) == s["size"]
        assert age.decrypt_bytes(data, [opening_identity]) == plaintext

    # At rest: ciphertext under a non-extractable AES-GCM key; no identity in the records.
    at_rest = await p.run(
        """async () => {
          const db = await new Promise((ok, no) => {
            const r = indexedDB.open("evalroom-bidkeys"); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
          });
          const all = (store) => new Promise((ok) => {
            const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result);
          });
          const [key] = await all("vault");
          const records = await all("bids");
          let exported = "exported";
          try { await crypto.subtle.exportKey("raw", key); } catch (e) { exported = e.name; }
          db.close();
          const text = JSON.stringify(records, (k, v) => v instanceof Uint8Array ? Array.from(v) : v);
          return { extractable: key.extractable, algorithm: key.algorithm.name, exported, text,
                   count: records.length, listed: await sealing.bidkeys.listBidKeys() };
        }"""
    )
    assert at_rest["extractable"] is False and at_rest["algorithm"] == "AES-GCM"
    assert at_rest["exported"] == "InvalidAccessError"
    assert at_rest["count"] == 2
    assert "AGE-SECRET-KEY" not in at_rest["text"]
    assert [e["sealed_sha256"] for e in at_rest["listed"]] == [s["sha256"] for s in sealed]
    assert all("identity" not in e and "ct" not in e for e in at_rest["listed"])

    # Released at the opening: the key of the file the receipt names, else the latest.
    async def release(sha256: str | None) -> str | None:
        result: str | None = await p.run(
            "([slot, sha]) => sealing.bidkeys.loadBidKey(slot, sha ?? undefined)", [SLOT, sha256]
        )
        return result

    identities = [await release(s["sha256"]) for s in sealed]
    for plaintext, s, identity in zip(bids, sealed, identities, strict=True):
        assert identity is not None and age.to_recipient(identity) == s["recipient"]
        assert age.decrypt_bytes(unb64(s["bytes"]), [identity]) == plaintext
    assert await release(None) == identities[1]
    assert await release("0" * 64) is None

    # It survives a reload of the page.
    await p.page.close()
    p2 = await open_page(browser, site, p.context)
    assert await p2.run("(slot) => sealing.bidkeys.loadBidKey(slot)", SLOT) == identities[1]

    # The backup file: a short passphrase is refused; the file opens with the documented
    # format alone, and decrypted it is a bid-keys file the CLI reads.
    passphrase = "月光下的 correct horse battery"
    short = await p2.run(
        "async () => { try { await sealing.bidkeys.exportBackup('short'); } catch (e) { return [e.message, sealing.bidkeys.messageFor(e), sealing.bidkeys.messageFor(e, 'en')]; } }"
    )
    assert short[0] == "backup_passphrase_short" and "12" in short[1] and "12" in short[2]
    backup = await p2.run(
        "(pass) => sealing.bidkeys.exportBackup(pass, { user: 'u-bidder-a' })", passphrase
    )
    assert "AGE-SECRET-KEY" not in backup
    content = open_backup(backup, passphrase)
    assert content["format"] == "evalroom-bid-keys/1" and content["user"] == "u-bidder-a"
    assert [b["identity"] for b in content["bids"]] == identities
    bid_keys_file = tmp_path / "a.key.json.bids.json"
    bid_keys_file.write_text(json.dumps(content))
    keys = BidKeys.load(bid_keys_file, "u-bidder-a")
    found = keys.find(SLOT["tender"], SLOT["section"], SLOT["envelope"], sealed[0]["sha256"])
    assert found is not None and found.identity == identities[0]
    assert found.sealed_size == sealed[0]["size"]

    # A fresh browser profile (the vault lost) restores it from the file.
    fresh = await open_page(browser, site)
    assert await fresh.run("() => sealing.bidkeys.listBidKeys()") == []
    refused = await fresh.run(
        """async ([text, pass]) => {
          const out = [];
          for (const [t, p] of [[text, pass + "x"], [text.replace('"iterations": 600000', '"iterations": 600001'), pass],
                                ["{}", pass], ["not json", pass]]) {
            try { await sealing.bidkeys.importBackup(t, p); out.push("imported"); } catch (e) { out.push(e.message); }
          }
          return out;
        }""",
        [backup, passphrase],
    )
    assert refused == [
        "backup_passphrase_wrong",
        "backup_passphrase_wrong",
        "backup_malformed",
        "backup_malformed",
    ]
    restored = await fresh.run(
        "async ([text, pass]) => (await sealing.bidkeys.importBackup(text, pass)).bids.length",
        [backup, passphrase],
    )
    assert restored == 2
    for s, identity in zip(sealed, identities, strict=True):
        got = await fresh.run(
            "([slot, sha]) => sealing.bidkeys.loadBidKey(slot, sha)", [SLOT, s["sha256"]]
        )
        assert got == identity
    assert p.errors == p2.errors == fresh.errors == []
    await fresh.context.close()
    await p.context.close()


async def test_every_error_code_has_a_sentence_in_both_languages(browser: Any, site: Site) -> None:
    sources = "".join((WEB / "js" / name).read_text() for name in ("age.js", "bidkeys.js"))
    codes = set(re.findall(r'new (?:AgeError|BidKeyError)\("([a-z0-9_]+)"', sources))
    assert {"age_recipient_invalid", "backup_passphrase_wrong", "bid_key_unreadable"} <= codes
    p = await open_page(browser, site)
    tables = await p.run(
        "() => Object.fromEntries(Object.entries(sealing.bidkeys.MESSAGES).map(([k, v]) => [k, Object.keys(v)]))"
    )
    assert set(tables) == {"zh-CN", "en"}
    for lang, known in tables.items():
        assert codes <= set(known), (lang, codes - set(known))
    await p.context.close()


def test_the_test_page_loads_only_local_modules() -> None:
    """No third-party code at run time: every module the sealing page imports is ours."""
    imports = [
        line
        for path in [TEST_PAGE, *(WEB / "js").glob("*.js")]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith("import ") or "import(" in line
    ]
    assert imports
    assert all("http:" not in line and "https:" not in line for line in imports), imports

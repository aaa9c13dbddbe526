"""Tests for crypto.checkpoint: C2SP checkpoints in C2SP signed notes (Ed25519)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest

from crypto.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    VerifierKey,
    key_id,
    open_checkpoint,
    open_note,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    verifier_key,
)
from crypto.keys import SigningKey, b64u, unb64u

# --------------------------------------------------------------------------------------------
# Published known answers (public test constants, inlined).
#
# golang.org/x/mod/sumdb/note (note.go doc example and note_test.go): the PeterNeumann key pair
# and signed note, and the EnochRoot key (derived from an all-zero seed) with its signature.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)
# c2sp.org/signed-note: the example.com/foo verifier key and its example note.
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXm"
    "RKuwHjG1Yu72IneyaQM=\n"
)
# A real checkpoint of the Go checksum database, signed by sum.golang.org (verifier key from
# the Go source, cmd/go/internal/modfetch/key.go).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n31700353\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\n"
    "— sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8o"
    "W9/C8DJ87F61QqspBYwM=\n"
)
# transparency-dev/formats note tests: an Ed25519 verifier key whose base64 contains '+'.
PLUS_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"


def _signing_key_from_go(skey: str) -> SigningKey:
    # PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || 32-byte seed)>; maxsplit because of '+'.
    material = base64.b64decode(skey.split("+", 4)[4])
    assert material[0] == 1
    return SigningKey.from_string("ed25519-secret:" + b64u(material[1:]))


def test_go_note_known_answer_verifies() -> None:
    verified = open_note(GO_TEXT + "\n" + PETER_SIG, [PETER_VKEY])
    assert verified.text == GO_TEXT
    assert [k.name for k in verified.signers] == ["PeterNeumann"]


def test_go_note_known_answer_is_reproduced_byte_for_byte() -> None:
    # Ed25519 is deterministic, so signing the same text with the same key must give the
    # published note exactly: our wire format and key ID are Go's.
    key = _signing_key_from_go(PETER_SKEY)
    assert verifier_key("PeterNeumann", key.public) == PETER_VKEY
    assert sign_note(GO_TEXT, "PeterNeumann", key) == GO_TEXT + "\n" + PETER_SIG


def test_go_enoch_root_key_and_two_signatures() -> None:
    zero_seed = SigningKey.from_string("ed25519-secret:" + b64u(bytes(32)))
    assert verifier_key("EnochRoot", zero_seed.public) == ENOCH_VKEY
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    # Unknown signers are ignored; each configured signer is verified.
    assert [k.name for k in open_note(note, [PETER_VKEY]).signers] == ["PeterNeumann"]
    assert [k.name for k in open_note(note, [ENOCH_VKEY]).signers] == ["EnochRoot"]
    both = open_note(note, [ENOCH_VKEY, PETER_VKEY])
    assert [k.name for k in both.signers] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(CheckpointError) as err:
        open_note(note.replace("cryptography", "cryptographY"), [PETER_VKEY])
    assert err.value.code == "bad_signature"


def test_c2sp_spec_example_note() -> None:
    assert open_note(FOO_NOTE, [FOO_VKEY]).text == "This is an example message.\n"


def test_real_sumdb_checkpoint() -> None:
    cp = open_checkpoint(SUMDB_CHECKPOINT, [SUMDB_VKEY], origin="go.sum database tree")
    assert cp.origin == "go.sum database tree"
    assert cp.size == 31700353
    assert cp.root == base64.b64decode("qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=")
    assert cp.extensions == ()
    tampered = SUMDB_CHECKPOINT.replace("31700353", "31700354")
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(tampered, [SUMDB_VKEY])
    assert err.value.code == "bad_signature"


def test_verifier_key_with_plus_in_base64() -> None:
    key = parse_verifier_key(PLUS_VKEY)
    assert key.name == "TEST"
    assert key.key_id == bytes.fromhex("7997405c")
    assert key.to_string() == PLUS_VKEY == str(key)


# --------------------------------------------------------------------------------------------
# Our own checkpoints.

ORIGIN = "evalroom.example/log/tender-2026-0001"
ROOT = hashlib.sha256(b"some root").digest()


@pytest.fixture(scope="module")
def log_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def log_vkey(log_key: SigningKey) -> str:
    return verifier_key(ORIGIN, log_key.public)


def test_round_trip(log_key: SigningKey, log_vkey: str) -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT)
    note = sign_checkpoint(cp, ORIGIN, log_key)
    root_b64 = base64.b64encode(ROOT).decode()
    assert note.startswith(f"{ORIGIN}\n42\n{root_b64}\n\n— {ORIGIN} ")
    assert re.fullmatch(r"[A-Za-z0-9+/]{91}=", note.splitlines()[-1].split(" ")[-1])
    assert open_checkpoint(note, [log_vkey]) == cp
    assert open_checkpoint(note.encode(), [parse_verifier_key(log_vkey)], origin=ORIGIN) == cp


def test_round_trip_with_extensions_and_empty_tree(log_key: SigningKey, log_vkey: str) -> None:
    cp = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest(), ("ext one", "ext two"))
    note = sign_checkpoint(cp, ORIGIN, log_key)
    assert note.startswith(f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\n")
    assert open_checkpoint(note, [log_vkey]) == cp


def test_verifier_key_format(log_key: SigningKey, log_vkey: str) -> None:
    name, hex_id, material = log_vkey.split("+", 2)
    raw = log_key.public.raw()
    assert name == ORIGIN
    assert hex_id == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4].hex()
    assert base64.b64decode(material) == b"\x01" + raw
    parsed = parse_verifier_key(log_vkey)
    assert parsed == VerifierKey(ORIGIN, key_id(ORIGIN, log_key.public), log_key.public)
    assert parse_verifier_key(log_vkey.replace(hex_id, hex_id.upper())) == parsed


def _code(note: str | bytes, keys: list[str], **kwargs: str) -> str:
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(note, keys, **kwargs)
    return err.value.code


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("size", "\n42\n", "\n43\n"),
        ("origin", ORIGIN + "\n42", ORIGIN + "x\n42"),
        ("root", "", ""),  # replaced below with a one-character change of the root line
    ],
)
def test_tampering_fails(
    log_key: SigningKey, log_vkey: str, field: str, old: str, new: str
) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), ORIGIN, log_key)
    if field == "root":
        old = base64.b64encode(ROOT).decode() + "\n"
        new = base64.b64encode(bytes([ROOT[0] ^ 1]) + ROOT[1:]).decode() + "\n"
    tampered = note.replace(old, new, 1)
    assert tampered != note
    assert _code(tampered, [log_vkey]) == "bad_signature"


def test_tampered_signature_fails(log_key: SigningKey, log_vkey: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), ORIGIN, log_key)
    text, sig_line = note[: note.rindex("\n\n") + 2], note[note.rindex("\n\n") + 2 :]
    blob = bytearray(base64.b64decode(sig_line.split(" ")[-1]))
    for position in (4, 20, 67):  # signature bytes after the 4-byte key ID
        bad = bytearray(blob)
        bad[position] ^= 0x01
        line = f"— {ORIGIN} {base64.b64encode(bytes(bad)).decode()}\n"
        assert _code(text + line, [log_vkey]) == "bad_signature"
    # A truncated signature from a known key is a bad signature too.
    line = f"— {ORIGIN} {base64.b64encode(bytes(blob[:-1])).decode()}\n"
    assert _code(text + line, [log_vkey]) == "bad_signature"


def test_wrong_key_fails(log_key: SigningKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), ORIGIN, log_key)
    other = verifier_key(ORIGIN, SigningKey.generate().public)
    # Same name, different key: the key IDs differ, so the signature is from an unknown key.
    assert _code(note, [other]) == "unknown_key"
    assert _code(note, []) == "unknown_key"


def test_forged_key_id_fails(log_key: SigningKey, log_vkey: str) -> None:
    # An attacker can pick a key whose ID collides with ours; the signature then fails.
    attacker = SigningKey.generate()
    text = Checkpoint(ORIGIN, 42, ROOT).body()
    kid = key_id(ORIGIN, log_key.public)
    sig = unb64u(attacker.sign(text.encode()))
    forged = f"{text}\n— {ORIGIN} {base64.b64encode(kid + sig).decode()}\n"
    assert _code(forged, [log_vkey]) == "bad_signature"


def test_signature_under_different_key_name_fails(log_key: SigningKey, log_vkey: str) -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT)
    other_name = sign_checkpoint(cp, "someone.else/log", log_key)
    assert _code(other_name, [log_vkey]) == "unknown_key"
    # Relabelling the line with our name keeps the other name's key ID: still not our key.
    relabelled = other_name.replace("— someone.else/log ", f"— {ORIGIN} ")
    assert _code(relabelled, [log_vkey]) == "unknown_key"


def test_unknown_signatures_are_ignored_and_known_key_twice_is_malformed(
    log_key: SigningKey, log_vkey: str
) -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT)
    good = sign_checkpoint(cp, ORIGIN, log_key)
    cut = good.rindex("\n\n") + 2
    head, own_line = good[:cut], good[cut:]
    witness = sign_checkpoint(cp, "witness.example", SigningKey.generate())
    witness_line = witness[witness.rindex("\n\n") + 2 :]
    assert open_checkpoint(head + own_line + witness_line, [log_vkey]) == cp
    assert open_checkpoint(head + witness_line + own_line, [log_vkey]) == cp
    # Only an unknown signer: nothing trusted vouches for the checkpoint.
    assert _code(head + witness_line, [log_vkey]) == "unknown_key"
    # The same known key twice is malformed (as in Go's note.Open).
    assert _code(head + own_line + own_line, [log_vkey]) == "malformed_note"


def test_origin_mismatch(log_key: SigningKey, log_vkey: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), ORIGIN, log_key)
    assert _code(note, [log_vkey], origin="evalroom.example/other") == "origin_mismatch"


def test_ambiguous_verifier_keys_are_refused(log_key: SigningKey, log_vkey: str) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), ORIGIN, log_key)
    real = parse_verifier_key(log_vkey)
    impostor = VerifierKey(ORIGIN, real.key_id, SigningKey.generate().public)
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(note, [real, impostor])
    assert err.value.code == "malformed_key"
    assert open_checkpoint(note, [real, real, log_vkey]).size == 42  # duplicates are fine


# --------------------------------------------------------------------------------------------
# Malformed input is refused, never half-read.


@pytest.fixture(scope="module")
def good_note(log_key: SigningKey) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), ORIGIN, log_key)


def _sig_blob(note: str) -> str:
    return note.rstrip("\n").rsplit(" ", 1)[1]


MALFORMED_NOTES: dict[str, Callable[[str], str]] = {
    "no blank line": lambda n: n.replace("\n\n", "\n"),
    "no signature lines": lambda n: n[: n.rindex("\n\n") + 2],
    "no final newline": lambda n: n[:-1],
    "hyphens instead of em dash": lambda n: n.replace("— ", "-- "),
    "em dash without space": lambda n: n.replace("— ", "—"),
    "en dash": lambda n: n.replace("— ", "– "),
    "no space before signature": lambda n: n.replace(f"— {ORIGIN} ", f"— {ORIGIN}"),
    "empty key name": lambda n: n.replace(f"— {ORIGIN} ", "—  "),
    "plus in key name": lambda n: n.replace(f"— {ORIGIN} ", "— a+b "),
    "non-canonical base64": lambda n: n.replace(_sig_blob(n), _sig_blob(n).rstrip("=")),
    "base64url signature": lambda n: n.replace(
        _sig_blob(n), _sig_blob(n).replace("+", "-").replace("/", "_") + "-"
    ),
    "signature too short": lambda n: n.replace(_sig_blob(n), "AAAAAA=="),
    "carriage returns": lambda n: n.replace("\n", "\r\n"),
    "tab in text": lambda n: n.replace("\n42\n", "\n42\t\n"),
    "trailing blank line": lambda n: n + "\n",
    "trailing garbage line": lambda n: n + "garbage\n",
    "too many signatures": lambda n: n + n[n.rindex("\n\n") + 2 :] * MAX_SIGNATURES,
}


@pytest.mark.parametrize("mutate", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_notes_are_rejected(
    good_note: str, log_vkey: str, mutate: Callable[[str], str]
) -> None:
    bad = mutate(good_note)
    assert bad != good_note
    assert _code(bad, [log_vkey]) == "malformed_note"


def test_malformed_note_types_and_encodings(log_vkey: str, good_note: str) -> None:
    assert _code(b"\xff\xfe" + good_note.encode(), [log_vkey]) == "malformed_note"
    assert _code("", [log_vkey]) == "malformed_note"
    assert _code("\n\n", [log_vkey]) == "malformed_note"
    assert _code("x" * (1 << 21), [log_vkey]) == "malformed_note"
    with pytest.raises(CheckpointError) as err:
        open_checkpoint(None, [log_vkey])  # type: ignore[arg-type]
    assert err.value.code == "malformed_note"


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n42\n",  # two lines
        f"{ORIGIN}\n042\n{base64.b64encode(ROOT).decode()}\n",  # leading zero
        f"{ORIGIN}\n+42\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n٤٢\n{base64.b64encode(ROOT).decode()}\n",  # non-ASCII digits
        f"{ORIGIN}\n4_2\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n",  # beyond uint64
        f"{ORIGIN}\n{'9' * 5000}\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n42\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31-byte root
        f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",  # unpadded
        f"{ORIGIN}\n42\n{ROOT.hex()}\n",
        f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n\nextension\n",  # empty line
        f"\n42\n{base64.b64encode(ROOT).decode()}\n",  # empty origin
    ],
)
def test_signed_text_that_is_not_a_checkpoint_is_rejected(
    log_key: SigningKey, log_vkey: str, body: str
) -> None:
    note = sign_note(body, ORIGIN, log_key)
    assert _code(note, [log_vkey]) == "malformed_checkpoint"


def test_checkpoint_constructor_validates() -> None:
    bad: list[tuple[object, object, object, object]] = [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("a\rb", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, 2**64, ROOT, ()),
        (ORIGIN, True, ROOT, ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, bytearray(ROOT), ()),
        (ORIGIN, 1, ROOT, ("",)),
        (ORIGIN, 1, ROOT, ("a\nb",)),
        (ORIGIN, 1, ROOT, "ext"),
    ]
    for origin, size, root, ext in bad:
        with pytest.raises(CheckpointError) as err:
            Checkpoint(origin, size, root, ext)  # type: ignore[arg-type]
        assert err.value.code == "malformed_checkpoint"
    assert Checkpoint(ORIGIN, 1, ROOT, ["x"]).extensions == ("x",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a3",  # two parts
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong name
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short ID
        "PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not hex
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # bad base64
        "PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "",
    ],
)
def test_malformed_verifier_keys(text: str) -> None:
    with pytest.raises(CheckpointError) as err:
        parse_verifier_key(text)
    assert err.value.code == "malformed_key"


def test_signing_refuses_bad_names_and_text(log_key: SigningKey) -> None:
    for name in ["", "a b", "a+b", "a\u00a0b", "a\nb"]:
        with pytest.raises(CheckpointError) as err:
            sign_note("text\n", name, log_key)
        assert err.value.code == "malformed_key"
    for text in ["", "no newline", "tab\there\n", "\ud800\n"]:
        with pytest.raises(CheckpointError) as err:
            sign_note(text, ORIGIN, log_key)
        assert err.value.code == "malformed_note"

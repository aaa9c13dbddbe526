"""Tests for crypto.merkle: published vectors, RFC 6962 known answers, mutations, properties."""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from crypto.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------------------------
# Known answers: the eight RFC 6962 test leaves and the roots of their prefixes, as published in
# the RFC 6962 reference implementation and transparency-dev/merkle (testonly/constants.go).

RFC6962_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
RFC6962_LEAF_HASHES = [leaf_hash(d) for d in RFC6962_LEAVES]
RFC6962_ROOTS = [  # index = tree size
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
# Known proofs over those leaves, from the same sources.
RFC6962_INCLUSION = {  # (index, size) -> proof
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
RFC6962_CONSISTENCY = {  # (size1, size2) -> proof
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 7): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def _hexes(proof: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in proof]


def test_hash_primitives() -> None:
    assert leaf_hash(b"") == RFC6962_ROOTS[1]
    assert EMPTY_ROOT == RFC6962_ROOTS[0]
    assert node_hash(RFC6962_LEAF_HASHES[0], RFC6962_LEAF_HASHES[1]) == RFC6962_ROOTS[2]


@pytest.mark.parametrize("size", range(len(RFC6962_ROOTS)))
def test_rfc6962_known_roots(size: int) -> None:
    hashes = RFC6962_LEAF_HASHES[:size]
    assert root(hashes) == RFC6962_ROOTS[size]
    log = MerkleLog.from_leaf_hashes(hashes)
    assert log.size == size == len(log)
    assert log.root() == RFC6962_ROOTS[size]


def test_merkle_log_roots_at_every_earlier_size() -> None:
    log = MerkleLog.from_leaf_hashes(RFC6962_LEAF_HASHES)
    for size, want in enumerate(RFC6962_ROOTS):
        assert log.root(size) == want


@pytest.mark.parametrize(("index", "size"), sorted(RFC6962_INCLUSION))
def test_rfc6962_known_inclusion_proofs(index: int, size: int) -> None:
    want = _hexes(RFC6962_INCLUSION[index, size])
    assert inclusion_proof(RFC6962_LEAF_HASHES, index, size) == want
    assert MerkleLog.from_leaf_hashes(RFC6962_LEAF_HASHES).inclusion_proof(index, size) == want
    assert verify_inclusion(RFC6962_LEAF_HASHES[index], index, size, want, RFC6962_ROOTS[size])


@pytest.mark.parametrize(("size1", "size2"), sorted(RFC6962_CONSISTENCY))
def test_rfc6962_known_consistency_proofs(size1: int, size2: int) -> None:
    want = _hexes(RFC6962_CONSISTENCY[size1, size2])
    assert consistency_proof(RFC6962_LEAF_HASHES, size1, size2) == want
    log = MerkleLog.from_leaf_hashes(RFC6962_LEAF_HASHES)
    assert log.consistency_proof(size1, size2) == want
    assert verify_consistency(size1, size2, RFC6962_ROOTS[size1], RFC6962_ROOTS[size2], want)


# --------------------------------------------------------------------------------------------
# Published conformance vectors (transparency-dev/merkle testdata), read from the shared folder.


def _vectors_root() -> Path:
    env = os.environ.get("EVALROOM_VECTORS")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "vectors"
    return base / "merkle"


VECTORS = _vectors_root()
SUPPORTED_KINDS = ("inclusion", "consistency")
# Subtree proofs over arbitrary [start, end) ranges come from draft-ietf-plants-merkle-tree-certs,
# which evalroom does not implement; their vectors are reported as skipped, not silently ignored.
UNSUPPORTED_KINDS = ("subtreeinclusion", "subtreeconsistency")
MISSING_REASON = f"conformance vectors not found at {VECTORS} (set EVALROOM_VECTORS)"


def _vector_params(kind: str) -> list[Any]:
    folder = VECTORS / kind
    if not folder.is_dir():
        return [pytest.param(None, id=f"{kind}-missing", marks=pytest.mark.skip(MISSING_REASON))]
    return [
        pytest.param(path, id=path.relative_to(folder).as_posix())
        for path in sorted(folder.rglob("*.json"))
    ]


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "", validate=True)


def _b64_list(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


@pytest.mark.skipif(not VECTORS.is_dir(), reason=MISSING_REASON)
def test_vector_folder_is_fully_accounted_for() -> None:
    kinds = {p.name for p in VECTORS.iterdir() if p.is_dir()}
    assert kinds <= set(SUPPORTED_KINDS + UNSUPPORTED_KINDS), f"new vector kinds: {kinds}"
    for kind in SUPPORTED_KINDS:
        assert any((VECTORS / kind).rglob("*.json")), f"no {kind} vectors"


@pytest.mark.parametrize("kind", UNSUPPORTED_KINDS)
def test_unsupported_vector_kinds_are_reported(kind: str) -> None:
    folder = VECTORS / kind
    if not folder.is_dir():
        pytest.skip(MISSING_REASON)
    count = sum(1 for _ in folder.rglob("*.json"))
    pytest.skip(
        f"{count} {kind} vectors: subtree proofs (draft-ietf-plants-merkle-tree-certs) "
        "are not part of the evalroom Merkle API"
    )


@pytest.mark.parametrize("path", _vector_params("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)
    index, size = case["leafIdx"], case["treeSize"]
    leaf, want_root, proof = _b64(case["leafHash"]), _b64(case["root"]), _b64_list(case["proof"])
    assert verify_inclusion(leaf, index, size, proof, want_root) is (not case["wantErr"])
    # Happy paths over the RFC 6962 leaves must also be what our generators produce.
    if not case["wantErr"] and size < len(RFC6962_ROOTS) and want_root == RFC6962_ROOTS[size]:
        assert inclusion_proof(RFC6962_LEAF_HASHES, index, size) == proof
        log = MerkleLog.from_leaf_hashes(RFC6962_LEAF_HASHES[:size])
        assert log.inclusion_proof(index, size) == proof


@pytest.mark.parametrize("path", _vector_params("consistency"))
def test_consistency_vector(path: Path) -> None:
    case = _load(path)
    size1, size2 = case["size1"], case["size2"]
    root1, root2, proof = _b64(case["root1"]), _b64(case["root2"]), _b64_list(case["proof"])
    assert verify_consistency(size1, size2, root1, root2, proof) is (not case["wantErr"])
    known = size2 < len(RFC6962_ROOTS) and (root1, root2) == (
        RFC6962_ROOTS[size1],
        RFC6962_ROOTS[size2],
    )
    if not case["wantErr"] and known:
        assert consistency_proof(RFC6962_LEAF_HASHES, size1, size2) == proof
        log = MerkleLog.from_leaf_hashes(RFC6962_LEAF_HASHES[:size2])
        assert log.consistency_proof(size1, size2) == proof


# --------------------------------------------------------------------------------------------
# Mutations: every way of damaging a valid proof must make verification fail.


def _random_hashes(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(count)]


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


MUTATION_LEAVES = _random_hashes(40, seed=6962)
MUTATION_ROOTS = [root(MUTATION_LEAVES[:n]) for n in range(len(MUTATION_LEAVES) + 1)]
JUNK = bytes(range(32))


def _proof_mutations(proof: list[bytes], real_root: bytes) -> list[list[bytes]]:
    """Truncations, extensions and reorderings of ``proof`` (bit flips are done separately)."""
    out: list[list[bytes]] = []
    if proof:
        out += [proof[:-1], proof[1:], proof[:-1] + [JUNK], [JUNK] + proof[1:]]
        out += [proof + [proof[-1]], [proof[0], *proof], proof[::-1]]
        out.append([p[:-1] for p in proof])  # 31-byte hashes
        out.append([p + b"\x00" for p in proof])  # 33-byte hashes
    out += [proof + [JUNK], [JUNK, *proof], proof + [real_root], [real_root, *proof]]
    out += [proof + [b""], [b"", *proof]]
    return [m for m in out if m != proof]


def test_inclusion_mutations_fail() -> None:
    leaves, roots = MUTATION_LEAVES, MUTATION_ROOTS
    for size in range(1, 18):
        for index in range(size):
            proof = inclusion_proof(leaves, index, size)
            leaf, good_root = leaves[index], roots[size]
            assert verify_inclusion(leaf, index, size, proof, good_root)
            # Every single-bit flip of every proof hash, of the leaf and of the root.
            for i, p in enumerate(proof):
                for bit in range(256):
                    bad = [*proof[:i], _flip(p, bit), *proof[i + 1 :]]
                    assert not verify_inclusion(leaf, index, size, bad, good_root)
            for bit in range(0, 256, 7):
                assert not verify_inclusion(_flip(leaf, bit), index, size, proof, good_root)
                assert not verify_inclusion(leaf, index, size, proof, _flip(good_root, bit))
            for bad in _proof_mutations(proof, good_root):
                assert not verify_inclusion(leaf, index, size, bad, good_root)
            # Wrong index: any other index, including out of range ones.
            for other in [*range(size + 3), -1, 2**64 - 1]:
                if other != index:
                    assert not verify_inclusion(leaf, other, size, proof, good_root)
            # Wrong size, with the genuine root of that size: a proof for one tree head does not
            # prove anything about another. (The pair (size, root) must come from one signed
            # checkpoint; RFC 9162 verification cannot tell a size apart if given a root that
            # does not belong to it, which is why it is never offered here.)
            for other in range(len(leaves) + 1):
                if other != size:
                    assert not verify_inclusion(leaf, index, other, proof, roots[other])
            # Wrong leaf.
            for other in range(size):
                if other != index:
                    assert not verify_inclusion(leaves[other], index, size, proof, good_root)


def test_consistency_mutations_fail() -> None:
    leaves, roots = MUTATION_LEAVES, MUTATION_ROOTS
    for size2 in range(2, 18):
        for size1 in range(1, size2):
            proof = consistency_proof(leaves, size1, size2)
            r1, r2 = roots[size1], roots[size2]
            assert verify_consistency(size1, size2, r1, r2, proof)
            for i, p in enumerate(proof):
                for bit in range(256):
                    bad = [*proof[:i], _flip(p, bit), *proof[i + 1 :]]
                    assert not verify_consistency(size1, size2, r1, r2, bad)
            for bit in range(0, 256, 7):
                assert not verify_consistency(size1, size2, _flip(r1, bit), r2, proof)
                assert not verify_consistency(size1, size2, r1, _flip(r2, bit), proof)
            assert not verify_consistency(size1, size2, r2, r1, proof)
            assert not verify_consistency(size1, size2, r1, r2, [])
            for bad in _proof_mutations(proof, r1) + _proof_mutations(proof, r2):
                assert not verify_consistency(size1, size2, r1, r2, bad)
            for other in range(len(leaves) + 1):
                if other != size1:
                    assert not verify_consistency(other, size2, roots[other], r2, proof)
                if other != size2:
                    assert not verify_consistency(size1, other, r1, roots[other], proof)


def test_verifiers_never_raise_on_garbage() -> None:
    good = inclusion_proof(MUTATION_LEAVES, 3, 10)
    leaf, r = MUTATION_LEAVES[3], MUTATION_ROOTS[10]
    garbage: list[Any] = [None, "x" * 32, 3.0, "3", [None], [3], ["a" * 32], b"x" * 64, object()]
    for g in garbage:
        assert not verify_inclusion(g, 3, 10, good, r)
        assert not verify_inclusion(leaf, g, 10, good, r)
        assert not verify_inclusion(leaf, 3, g, good, r)
        assert not verify_inclusion(leaf, 3, 10, g, r)
        assert not verify_inclusion(leaf, 3, 10, good, g)
    assert not verify_inclusion(leaf, True, 10, good, r)  # bool is not an index
    cproof = consistency_proof(MUTATION_LEAVES, 3, 10)
    r1 = MUTATION_ROOTS[3]
    for g in garbage:
        assert not verify_consistency(g, 10, r1, r, cproof)
        assert not verify_consistency(3, g, r1, r, cproof)
        assert not verify_consistency(3, 10, g, r, cproof)
        assert not verify_consistency(3, 10, r1, g, cproof)
        assert not verify_consistency(3, 10, r1, r, g)


def test_consistency_edge_cases() -> None:
    r = MUTATION_ROOTS
    assert verify_consistency(5, 5, r[5], r[5], [])
    assert not verify_consistency(5, 5, r[5], r[4], [])
    assert not verify_consistency(5, 5, r[5], r[5], [r[5]])
    # From the empty tree nothing is proven, whatever the proof (RFC 9162 requires 0 < size1).
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r[5], [])
    assert not verify_consistency(6, 5, r[6], r[5], [])
    assert not verify_consistency(-1, 5, r[0], r[5], [])


def test_generators_reject_out_of_range_arguments() -> None:
    hashes = MUTATION_LEAVES[:5]
    for index, size in [(0, 0), (5, 5), (6, 5), (-1, 3), (0, 6), (0, -1)]:
        with pytest.raises(ValueError):
            inclusion_proof(hashes, index, size)
    for size1, size2 in [(3, 2), (-1, 2), (0, 6), (6, 6)]:
        with pytest.raises(ValueError):
            consistency_proof(hashes, size1, size2)
    with pytest.raises(ValueError):
        root([b"short"])
    with pytest.raises(ValueError):
        inclusion_proof([*hashes[:2], b"short"], 0, 3)
    assert consistency_proof(hashes, 0, 5) == []
    assert consistency_proof(hashes, 5, 5) == []

    log = MerkleLog.from_leaf_hashes(hashes)
    with pytest.raises(ValueError):
        log.append(b"short")
    with pytest.raises(ValueError):
        log.root(6)
    with pytest.raises(ValueError):
        log.root(-1)
    for index, size in [(5, 5), (0, 0), (0, 6), (-1, 5)]:
        with pytest.raises(ValueError):
            log.inclusion_proof(index, size)
    for size1, size2 in [(3, 2), (0, 6), (-1, 2)]:
        with pytest.raises(ValueError):
            log.consistency_proof(size1, size2)
    with pytest.raises(ValueError):
        log.leaf_hash_at(5)
    assert log.leaf_hash_at(4) == hashes[4]
    assert log.consistency_proof(0, 5) == [] == log.consistency_proof(5)


# --------------------------------------------------------------------------------------------
# Property: the cached MerkleLog agrees with the reference functions everywhere.


def test_merkle_log_matches_reference_for_all_sizes_up_to_70() -> None:
    leaves = _random_hashes(70, seed=9162)
    log = MerkleLog()
    for n in range(1, 71):
        assert log.append(leaves[n - 1]) == n - 1
        want_root = root(leaves[:n])
        assert log.root() == want_root == log.root(n)
        for index in range(n):
            proof = inclusion_proof(leaves, index, n)
            assert log.inclusion_proof(index, n) == proof
            assert verify_inclusion(leaves[index], index, n, proof, want_root)
        for size1 in range(n + 1):
            proof = consistency_proof(leaves, size1, n)
            assert log.consistency_proof(size1, n) == proof
            if size1 > 0:
                assert verify_consistency(size1, n, root(leaves[:size1]), want_root, proof)
    # Earlier sizes stay answerable after later appends.
    for n in range(71):
        assert log.root(n) == root(leaves[:n])


def test_merkle_log_large_tree_spot_checks() -> None:
    leaves = _random_hashes(3000, seed=1)
    log = MerkleLog.from_leaf_hashes(leaves)
    rng = random.Random(2)
    full_root = root(leaves)
    assert log.root() == full_root
    for _ in range(50):
        size = rng.randint(1, 3000)
        index = rng.randrange(size)
        size1 = rng.randint(1, size)
        proof = log.inclusion_proof(index, size)
        assert proof == inclusion_proof(leaves, index, size)
        assert verify_inclusion(leaves[index], index, size, proof, log.root(size))
        cproof = log.consistency_proof(size1, size)
        assert cproof == consistency_proof(leaves, size1, size)
        assert verify_consistency(size1, size, log.root(size1), log.root(size), cproof)

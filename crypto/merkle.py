"""RFC 9162 (Certificate Transparency 2.0) Merkle tree over SHA-256.

This module is the public contract that third-party verifiers rely on, so it follows RFC 9162
section 2.1 to the letter:

* ``leaf_hash(d) = SHA-256(0x00 || d)`` and ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
* the tree over ``n`` leaves splits at the largest power of two smaller than ``n``;
* the root of the empty tree is ``SHA-256("")``;
* inclusion proofs are ``PATH(m, D[n])`` (section 2.1.3.1) and consistency proofs are
  ``PROOF(m, D[n])`` (section 2.1.4.1): lists of 32-byte hashes, lowest level first.

The module-level generators (:func:`root`, :func:`inclusion_proof`, :func:`consistency_proof`)
are straightforward transcriptions of the RFC recursion and cost O(n) hashes per call: they are
the reference that anyone can read against the RFC. :class:`MerkleLog` is the incremental,
cached structure the server uses: O(1) amortised hashing per append and O(log n) work per root
or proof.

The verifiers (:func:`verify_inclusion`, :func:`verify_consistency`) are the algorithms of
RFC 9162 sections 2.1.3.2 and 2.1.4.2, step for step. They return ``False`` (and never raise) on
any malformed input, because their callers feed them data received from the network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleLog",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# A subtree-hash oracle: returns MTH(D[start:end]) for the leaves of some tree.
_SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 hash of a leaf: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + bytes(left) + bytes(right)).digest()


def _split(n: int) -> int:
    """Return k, the largest power of two strictly smaller than ``n`` (requires n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_size(value: object) -> bool:
    """True for a non-negative ``int`` (``bool`` excluded: ``True`` is not a tree size)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    return isinstance(value, (bytes, bytearray)) and len(value) == HASH_SIZE


def _check_leaf_hashes(leaf_hashes: Sequence[bytes], size: int) -> None:
    for i in range(size):
        if not _is_hash(leaf_hashes[i]):
            raise ValueError(f"leaf hash {i} is not a {HASH_SIZE}-byte hash")


# --------------------------------------------------------------------------------------------
# The RFC recursions, parameterised by how subtree hashes are obtained. The reference functions
# compute every subtree hash from the leaves; MerkleLog looks perfect subtrees up in its cache.
# Sharing the recursion keeps the proof *shape* identical in both by construction, and the
# tests check the two subtree-hash oracles against each other and against published vectors.


def _path(subtree: _SubtreeHash, m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) of RFC 9162 section 2.1.3.1, with ``m`` relative to ``start``."""
    proof: list[bytes] = []
    siblings: list[bytes] = []
    # The RFC recursion appends the sibling *after* the recursive call, i.e. the proof runs
    # from the leaf upwards. Walking top-down we collect siblings and reverse once at the end.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            siblings.append(subtree(start + k, end))
            end = start + k
        else:
            siblings.append(subtree(start, start + k))
            start += k
            m -= k
    proof.extend(reversed(siblings))
    return proof


def _subproof(subtree: _SubtreeHash, m: int, start: int, end: int) -> list[bytes]:
    """PROOF(m, D[start:end]) = SUBPROOF(m, D[start:end], true) of RFC 9162 section 2.1.4.1."""
    siblings: list[bytes] = []
    complete = True  # the RFC's flag b: is D[start:start+m] a subtree the verifier already has?
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            siblings.append(subtree(start + k, end))
            end = start + k
        else:
            siblings.append(subtree(start, start + k))
            start += k
            m -= k
            complete = False
    # Base case m == n: SUBPROOF(m, D[m], true) = {} and SUBPROOF(m, D[m], false) = {MTH(D[m])}.
    proof = [] if complete else [subtree(start, end)]
    proof.extend(reversed(siblings))
    return proof


def _reference_subtree(leaf_hashes: Sequence[bytes]) -> _SubtreeHash:
    """MTH(D[start:end]) computed from the leaf hashes by the RFC 9162 definition, O(n)."""

    def mth(start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return bytes(leaf_hashes[start])
        k = _split(n)
        return node_hash(mth(start, start + k), mth(start + k, end))

    return mth


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH of the given leaf hashes (the empty tree hashes to :data:`EMPTY_ROOT`).

    Reference implementation, O(n); use :class:`MerkleLog` for repeated roots of a growing log.
    Raises ``ValueError`` if an element is not a 32-byte hash.
    """
    size = len(leaf_hashes)
    _check_leaf_hashes(leaf_hashes, size)
    return _reference_subtree(leaf_hashes)(0, size)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof of leaf ``index`` in the tree of the first ``size``
    leaves of ``leaf_hashes``.

    Raises ``ValueError`` unless ``0 <= index < size <= len(leaf_hashes)``.
    """
    if not (_is_size(index) and _is_size(size)) or not index < size <= len(leaf_hashes):
        raise ValueError(
            f"need 0 <= index < size <= {len(leaf_hashes)}, got index={index!r} size={size!r}"
        )
    _check_leaf_hashes(leaf_hashes, size)
    return _path(_reference_subtree(leaf_hashes), index, 0, size)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof between the trees of the first ``size1`` and the
    first ``size2`` leaves of ``leaf_hashes``.

    The proof is empty when ``size1 == size2`` or ``size1 == 0``: nothing needs proving there
    (note that :func:`verify_consistency` rejects ``size1 == 0``, see its docstring).
    Raises ``ValueError`` unless ``0 <= size1 <= size2 <= len(leaf_hashes)``.
    """
    if not (_is_size(size1) and _is_size(size2)) or not size1 <= size2 <= len(leaf_hashes):
        raise ValueError(
            f"need 0 <= size1 <= size2 <= {len(leaf_hashes)}, got size1={size1!r} size2={size2!r}"
        )
    _check_leaf_hashes(leaf_hashes, size2)
    if size1 == 0 or size1 == size2:
        return []
    return _subproof(_reference_subtree(leaf_hashes), size1, 0, size2)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof by the algorithm of RFC 9162 section 2.1.3.2.

    True iff ``proof`` proves that ``leaf_hash`` is leaf number ``index`` of the tree of
    ``size`` leaves whose root is ``root``. Any malformed input (index >= size, a hash that is
    not 32 bytes, a proof of the wrong length, wrong types) gives False; this never raises.
    """
    try:
        return _verify_inclusion(leaf_hash, index, size, proof, root)
    except Exception:  # a verifier must answer False, never raise, on bad input.
        return False


def _verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    if not (_is_size(index) and _is_size(size)) or not _is_hash(leaf_hash) or not _is_hash(root):
        return False
    if isinstance(proof, (str, bytes, bytearray)):
        return False  # a single blob is not a list of hashes, even if its length happens to fit
    # 1. leaf_index >= tree_size fails.
    if index >= size:
        return False
    # 2.-3.
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    # 4.
    for p in proof:
        if not _is_hash(p):
            return False
        # a.
        if sn == 0:
            return False
        # b.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        # c.
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof by the algorithm of RFC 9162 section 2.1.4.2.

    True iff ``proof`` proves that the tree of ``size1`` leaves with root ``root1`` is a prefix
    of the tree of ``size2`` leaves with root ``root2``. Edge cases, as in the published
    transparency-dev conformance vectors:

    * ``size1 > size2``: False.
    * ``size1 == 0``: False. RFC 9162 defines proofs only for ``0 < size1``; a consistency
      "proof" from the empty tree proves nothing, so a verifier must not count it as one.
    * ``size1 == size2 > 0``: True iff the proof is empty and ``root1 == root2`` (byte
      equality: identical tree heads are trivially consistent).

    Malformed input (hashes that are not 32 bytes, wrong proof length, wrong types) gives False;
    this never raises.
    """
    try:
        return _verify_consistency(size1, size2, root1, root2, proof)
    except Exception:  # a verifier must answer False, never raise, on bad input.
        return False


def _verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    if not (_is_size(size1) and _is_size(size2)) or size1 > size2 or size1 == 0:
        return False
    if isinstance(proof, (str, bytes, bytearray)):
        return False
    path = list(proof)
    if size1 == size2:
        return not path and isinstance(root1, (bytes, bytearray)) and root1 == root2
    if not (_is_hash(root1) and _is_hash(root2)) or not all(_is_hash(c) for c in path):
        return False
    # 1.
    if not path:
        return False
    # 2.
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    # 3.
    fn, sn = size1 - 1, size2 - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = bytes(path[0])
    # 6.
    for c in path[1:]:
        # a.
        if sn == 0:
            return False
        # b.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        # c.
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == root1 and sr == root2 and sn == 0


class MerkleLog:
    """An append-only RFC 9162 Merkle tree with every perfect subtree hash cached.

    Level ``k`` stores, contiguously, the hashes of the perfect subtrees of ``2**k`` leaves
    that are complete so far (level 0 holds the leaf hashes). An append adds one leaf hash and
    then, while the new node completes a pair, one parent one level up: one ``node_hash`` per
    append amortised. The rightmost node of each level is the "frontier" (compact range) of
    the tree; any subtree ``D[a:b]`` the RFC recursion asks for is either a perfect subtree
    (one lookup) or the right border of the tree (O(log n) lookups and hashes). Roots at any
    earlier size and proofs therefore cost O(log n) lookups and at most O(log^2 n) hashes.

    Memory is about 64 bytes per leaf (two 32-byte hashes, kept in ``bytearray`` buffers rather
    than as millions of small ``bytes`` objects). Not thread-safe: callers serialise appends.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self) -> None:
        """Create an empty log."""
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MerkleLog:
        """Build a log by appending ``leaf_hashes`` in order."""
        log = cls()
        for h in leaf_hashes:
            log.append(h)
        return log

    @property
    def size(self) -> int:
        """Number of leaves in the log."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> int:
        """Append a 32-byte leaf hash (see :func:`leaf_hash`) and return its index."""
        if not _is_hash(leaf_hash):
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes")
        levels = self._levels
        index = self._size
        levels[0] += leaf_hash
        self._size = count = index + 1
        level = 0
        # ``count`` is the number of nodes on ``level``; while it is even, the node just added
        # completed a pair whose parent is now a complete perfect subtree one level up.
        while not count & 1:
            parent = hashlib.sha256(_NODE_PREFIX + levels[level][-2 * HASH_SIZE :]).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += parent
            count >>= 1
        return index

    def leaf_hash_at(self, index: int) -> bytes:
        """Return the leaf hash stored at ``index``."""
        if not _is_size(index) or index >= self._size:
            raise ValueError(f"need 0 <= index < {self._size}, got {index!r}")
        return self._node(0, index)

    def _node(self, level: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from the cache; requires ``0 <= start <= end <= size``."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self._node(level, start >> level)
        # Not an aligned perfect subtree: split as the RFC does. Callers only ask for ranges
        # that start on a boundary of a perfect subtree at least as large as the range, so the
        # left half is always one lookup and only the right border recurses.
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def _check_size(self, size: int | None, name: str = "size") -> int:
        if size is None:
            return self._size
        if not _is_size(size) or size > self._size:
            raise ValueError(f"need 0 <= {name} <= {self._size}, got {size!r}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash of the tree of the first ``size`` leaves (default: all)."""
        return self._subtree(0, self._check_size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves
        (default: the current size). Raises ``ValueError`` unless ``0 <= index < size``."""
        size = self._check_size(size)
        if not _is_size(index) or index >= size:
            raise ValueError(f"need 0 <= index < size={size}, got {index!r}")
        return _path(self._subtree, index, 0, size)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the RFC 9162 consistency proof from the tree of ``size1`` leaves to the tree
        of ``size2`` leaves (default: the current size); empty if ``size1`` is 0 or equals
        ``size2``. Raises ``ValueError`` unless ``0 <= size1 <= size2 <= size``."""
        size2 = self._check_size(size2, "size2")
        if not _is_size(size1) or size1 > size2:
            raise ValueError(f"need 0 <= size1 <= size2={size2}, got {size1!r}")
        if size1 == 0 or size1 == size2:
            return []
        return _subproof(self._subtree, size1, 0, size2)

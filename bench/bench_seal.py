"""Benchmark sealing and opening a bid with crypto.age.

Usage: python bench/bench_seal.py [--size-mib N] [--repeat R] [--pyrage-max-mib M] [--tmpdir DIR]

Measures, over the same total size and in the same run:

* raw ChaCha20-Poly1305 (``cryptography``) encrypting and decrypting 64 KiB chunks, the
  ceiling for any age implementation on top of that library;
* crypto.age sealing a bid streamed from a generator into a discarding sink, and into a file;
* crypto.age opening that file into a discarding sink, beside the floor of any streaming
  opener (read the file in 64 KiB chunks + AEAD, nothing else);
* crypto.age opening from memory, and pyrage (rage) encrypting and decrypting in memory, at
  the same size unless memory is short (then the largest power-of-two fraction that fits);
* the peak RSS of the process after the streaming seal and open (before pyrage runs).

Each figure is the best of ``--repeat`` runs. MB/s is 10**6 bytes per second of plaintext.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crypto import age  # noqa: E402

MIB = 1024 * 1024
CHUNK = age.CHUNK_SIZE
BLOCK = os.urandom(MIB)  # the generator cycles over this, so it costs one memcpy per read


class Generated(io.RawIOBase):
    """A bid of ``size`` bytes produced on the fly."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._pos = 0
        self._block = memoryview(BLOCK)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left, MIB - self._pos)
        buffer[:n] = self._block[self._pos : self._pos + n]
        self._pos = (self._pos + n) % MIB
        self._left -= n
        return n


class Discard(io.RawIOBase):
    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = len(data)
        self.size += n
        return n


def best_of(repeat: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def raw_encrypt(size: int) -> None:
    aead = ChaCha20Poly1305(os.urandom(32))
    block = memoryview(BLOCK)
    per_block = MIB // CHUNK
    for i in range(size // CHUNK):
        offset = (i % per_block) * CHUNK
        aead.encrypt(i.to_bytes(12, "big"), block[offset : offset + CHUNK], None)


def raw_decrypt_fn(size: int) -> Callable[[], None]:
    aead = ChaCha20Poly1305(os.urandom(32))
    nonce = bytes(12)
    sealed = aead.encrypt(nonce, BLOCK[:CHUNK], None)

    def run() -> None:
        for _ in range(size // CHUNK):
            aead.decrypt(nonce, sealed, None)

    return run


def read_and_open_floor(path: Path) -> None:
    """Read the file as crypto.age does (8 chunks per call) and run the AEAD on each 64 KiB
    chunk, with no age logic at all: the ceiling for a streaming opener on this machine."""
    enc_chunk = CHUNK + 16
    aead = ChaCha20Poly1305(os.urandom(32))
    buf = memoryview(bytearray(8 * enc_chunk))
    out = memoryview(bytearray(enc_chunk))
    nonce = bytes(12)
    with open(path, "rb") as src:
        while n := src.readinto(buf):
            for pos in range(0, n, enc_chunk):
                # Encrypting stands in for decrypting: same cost, and this key would fail the tag.
                data = buf[pos : min(pos + CHUNK, n)]
                aead.encrypt_into(nonce, data, None, out[: len(data) + 16])


def mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# Run in a fresh interpreter so the figure is the streaming open's own footprint, not this
# process's (which holds in-memory copies of the bid for the pyrage rows).
RSS_PROBE = """
import resource, sys
from crypto import age


def peak_mib():
    # VmHWM belongs to this process's own address space; ru_maxrss can carry over the
    # parent's peak across fork + exec.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Discard:
    def write(self, data):
        return len(data)


identity = sys.stdin.readline().strip()
before = peak_mib()
with open(sys.argv[1], "rb") as src:
    age.decrypt(src, Discard(), [identity])
print(before, peak_mib())
"""


def rss_probe(path: Path, identity: str) -> tuple[float, float]:
    """Peak RSS in MiB of a fresh process before and after it opens ``path`` (Linux: KiB)."""
    root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(path)],
        input=identity + "\n",
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    before, after = done.stdout.split()
    return float(before), float(after)


Timed = tuple[str, Callable[[], None], int, str]  # label, run, plaintext bytes, raw to compare


def run_rounds(cases: list[Timed], repeat: int) -> dict[str, float]:
    """Best time of each case, running all cases round-robin so machine noise hits them alike."""
    best = {label: float("inf") for label, *_ in cases}
    for _ in range(repeat):
        for label, run, _, _ in cases:
            start = time.perf_counter()
            run()
            best[label] = min(best[label], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="bid size (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="best of R rounds (default 3)")
    parser.add_argument(
        "--pyrage-max-mib",
        type=int,
        default=None,
        help="cap the in-memory rows' size (default: the bid size, if memory allows)",
    )
    parser.add_argument("--tmpdir", default=None, help="where to write the sealed file")
    args = parser.parse_args()
    size = args.size_mib * MIB
    if size <= 0:
        parser.error("--size-mib must be positive")

    identity, recipient = age.generate_identity()
    notes: list[str] = []

    # In-memory rows hold plaintext, ciphertext and a decrypted copy at once.
    mem_size = min(size, (args.pyrage_max_mib or args.size_mib) * MIB)
    available = mem_available()
    while available is not None and 4 * mem_size > available and mem_size > 64 * MIB:
        mem_size //= 2
    if mem_size < size:
        notes.append(
            f"in-memory rows measured at {mem_size // MIB} MiB instead of {size // MIB} MiB "
            "(three copies of the bid would not fit comfortably in memory)"
        )

    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        path = Path(tmp) / "bid.age"
        sealed_file = Path(tmp) / "sealed-again.age"
        with open(path, "wb") as dst:
            age.encrypt(cast(BinaryIO, Generated(size)), dst, [recipient])
        rss_before, rss_after = rss_probe(path, identity)
        plaintext = BLOCK * (mem_size // MIB) + BLOCK[: mem_size % MIB]
        in_memory = age.encrypt_bytes(plaintext, [recipient])

        def seal_to_sink() -> None:
            sink = Discard()
            age.encrypt(cast(BinaryIO, Generated(size)), cast(BinaryIO, sink), [recipient])
            assert sink.size > size

        def seal_to_file() -> None:
            with open(sealed_file, "wb") as dst:
                age.encrypt(cast(BinaryIO, Generated(size)), dst, [recipient])
            sealed_file.unlink()

        def open_file() -> None:
            sink = Discard()
            with open(path, "rb") as src:
                age.decrypt(src, cast(BinaryIO, sink), [identity])
            assert sink.size == size

        def open_memory() -> None:
            sink = Discard()
            age.decrypt(io.BytesIO(in_memory), cast(BinaryIO, sink), [identity])
            assert sink.size == mem_size

        mem = f"({mem_size // MIB} MiB)"
        cases: list[Timed] = [
            ("raw ChaCha20-Poly1305 encrypt, 64 KiB", lambda: raw_encrypt(size), size, "enc"),
            ("raw ChaCha20-Poly1305 decrypt, 64 KiB", raw_decrypt_fn(size), size, "dec"),
            ("crypto.age seal: generator -> discard", seal_to_sink, size, "enc"),
            ("crypto.age seal: generator -> new file (1)", seal_to_file, size, "enc"),
            ("crypto.age open: file -> discard (2)", open_file, size, "dec"),
            (
                "  floor: read file + AEAD, no age logic",
                lambda: read_and_open_floor(path),
                size,
                "dec",
            ),
            (f"crypto.age open: memory -> discard {mem}", open_memory, mem_size, "dec"),
        ]

        try:
            import pyrage
        except ImportError:
            pyrage = None
            notes.append("pyrage is not installed: skipped")
        if pyrage is not None:
            rage_recipient = pyrage.x25519.Recipient.from_str(recipient)
            rage_identity = pyrage.x25519.Identity.from_str(identity)
            rage_sealed = pyrage.encrypt(plaintext, [rage_recipient])

            def rage_seal() -> None:
                pyrage.encrypt(plaintext, [rage_recipient])

            def rage_open() -> None:
                assert len(pyrage.decrypt(rage_sealed, [rage_identity])) == mem_size

            cases += [
                (f"pyrage encrypt: memory -> memory {mem}", rage_seal, mem_size, "enc"),
                (f"pyrage decrypt: memory -> memory {mem}", rage_open, mem_size, "dec"),
            ]

        best = run_rounds(cases, args.repeat)

    rate = {label: nbytes / best[label] / 1e6 for label, _, nbytes, _ in cases}
    raw = {"enc": rate[cases[0][0]], "dec": rate[cases[1][0]]}
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("cryptography", "pyrage")
        if _installed(name)
    )
    print(
        f"bid {args.size_mib} MiB, 64 KiB chunks, best of {args.repeat} interleaved rounds; "
        f"Python {platform.python_version()}, {versions}; {os.cpu_count()} CPUs"
    )
    print(f"{'operation':<48}{'MB/s':>8}{'% of raw':>10}  vs")
    for label, _, _, versus in cases:
        print(
            f"{label:<48}{rate[label]:>8.0f}{100 * rate[label] / raw[versus]:>9.0f}%  raw {versus}"
        )
    print(
        f"peak RSS of a fresh process opening the {args.size_mib} MiB bid (2): "
        f"{rss_after:.0f} MiB ({rss_before:.0f} MiB after imports, before opening)"
    )
    print("(1) includes the kernel allocating and filling page cache for the new file")
    print("(2) the sealed file is in the page cache: this is read + decrypt, not disk speed")
    for note in notes:
        print(f"note: {note}")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


if __name__ == "__main__":
    main()

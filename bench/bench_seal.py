"""Benchmark sealing and opening a bid with crypto.age.

Usage: python bench/bench_seal.py [--size-mib N] [--repeat R] [--compare REF]
       [--pyrage-max-mib M] [--tmpdir DIR]

Measures, over the same total size and in the same run:

* raw ChaCha20-Poly1305 (``cryptography``) encrypting and decrypting 64 KiB chunks, the
  ceiling for any age implementation on top of that library;
* crypto.age sealing a bid streamed from a generator into a discarding sink, and from a
  file into a new file;
* crypto.age opening the sealed file into a discarding sink and into a new file, beside the
  floor of any streaming opener (read the file in 64 KiB chunks + AEAD, nothing else);
* with ``--compare REF``: the same file-to-file rows with ``crypto/age.py`` as it is at git
  revision REF (e.g. ``main``), interleaved with the others, so before and after share the
  run and its noise;
* crypto.age opening from memory, and pyrage (rage) encrypting and decrypting in memory, at
  the same size unless memory is short (then the largest power-of-two fraction that fits);
* the peak RSS of a fresh process sealing the bid file to a file, and opening it.

The cases run round-robin, ``--repeat`` rounds; each figure is the best round. MB/s is 10**6
bytes of plaintext per second. The ratios at the end divide raw's time by a case's in the
same round (best, median and range over the rounds; on a busy machine, run more rounds and
read the median), and the same for the CPU time of the calling thread, which a busy machine
disturbs less: it says what a case costs the thread that calls crypto.age, whatever helper
threads do beside it on another core.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, too

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from bench.harness import ROOT, argument_parser, machine_line, ratio, run_bench
from crypto import age

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


def age_at(ref: str, folder: Path) -> ModuleType:
    """``crypto/age.py`` as it is at git revision ``ref``, imported as a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:crypto/age.py"],
        capture_output=True,
        check=True,
    ).stdout
    name = "age_at_" + "".join(c if c.isalnum() else "_" for c in ref)
    path = folder / f"{name}.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# Run in a fresh interpreter so the figure is sealing's or opening's own footprint, not this
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


key = sys.stdin.readline().strip()
before = peak_mib()
with open(sys.argv[2], "rb") as src:
    if sys.argv[1] == "seal":
        with open(sys.argv[3], "wb") as dst:
            age.encrypt(src, dst, [key])
    else:
        age.decrypt(src, Discard(), [key])
print(before, peak_mib())
"""


def rss_probe(argv: list[str], key: str) -> tuple[float, float]:
    """Peak RSS in MiB of a fresh process before and after it seals or opens (Linux: KiB)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, *argv],
        input=key + "\n",
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    before, after = done.stdout.split()
    return float(before), float(after)


@dataclass
class Case:
    """One measured operation: ``run`` returns its wall and calling-thread CPU seconds."""

    label: str
    run: Callable[[], tuple[float, float]]
    nbytes: int
    versus: str  # "enc" or "dec": the raw row it is compared with
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.nbytes / min(self.wall) / 1e6


def timed(run: Callable[[], object]) -> Callable[[], tuple[float, float]]:
    def measure() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.thread_time()
        run()
        return time.perf_counter() - wall, time.thread_time() - cpu

    return measure


def run_rounds(cases: list[Case], repeat: int) -> None:
    """All cases round-robin, ``repeat`` times, so machine noise hits them alike."""
    for _ in range(repeat):
        for case in cases:
            wall, cpu = case.run()
            case.wall.append(wall)
            case.cpu.append(cpu)


def ratio_line(name: str, case: Case, raw: Case) -> str:
    """``case`` against ``raw``, round by round: raw's time over the case's (1.0 = as fast)."""
    walls = [ratio(r, c) for r, c in zip(raw.wall, case.wall, strict=True)]
    cpus = [ratio(r, c) for r, c in zip(raw.cpu, case.cpu, strict=True)]
    return (
        f"{name:<22} wall: best {max(walls):.2f}, median {statistics.median(walls):.2f},"
        f" rounds {min(walls):.2f}-{max(walls):.2f}; calling thread's CPU: best {max(cpus):.2f},"
        f" median {statistics.median(cpus):.2f}"
    )


def bench(args: argparse.Namespace) -> int:
    size = args.size_mib * MIB
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

    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        plain = Path(tmp) / "bid.pdf"
        sealed = Path(tmp) / "bid.age"
        output = Path(tmp) / "output"
        with open(plain, "wb") as dst:
            for _ in range(size // MIB):
                dst.write(BLOCK)
            dst.write(BLOCK[: size % MIB])
        with open(plain, "rb") as src, open(sealed, "wb") as dst:
            age.encrypt(src, dst, [recipient])
        rss_seal = rss_probe(["seal", str(plain), str(output)], recipient)
        output.unlink()
        rss_open = rss_probe(["open", str(sealed)], identity)
        plaintext = BLOCK * (mem_size // MIB) + BLOCK[: mem_size % MIB]
        in_memory = age.encrypt_bytes(plaintext, [recipient])

        def seal_to_sink() -> None:
            sink = Discard()
            age.encrypt(cast(BinaryIO, Generated(size)), cast(BinaryIO, sink), [recipient])
            assert sink.size > size

        def file_to_file(
            module: ModuleType, operation: str, src_path: Path, key: str
        ) -> Callable[[], tuple[float, float]]:
            # Opening the files and closing them (the flush included) is timed; deleting
            # the output afterwards is not.
            def run() -> tuple[float, float]:
                wall, cpu = time.perf_counter(), time.thread_time()
                with open(src_path, "rb") as src, open(output, "wb") as dst:
                    getattr(module, operation)(src, dst, [key])
                measured = time.perf_counter() - wall, time.thread_time() - cpu
                output.unlink()
                return measured

            return run

        def open_file() -> None:
            sink = Discard()
            with open(sealed, "rb") as src:
                age.decrypt(src, cast(BinaryIO, sink), [identity])
            assert sink.size == size

        def open_memory() -> None:
            sink = Discard()
            age.decrypt(io.BytesIO(in_memory), cast(BinaryIO, sink), [identity])
            assert sink.size == mem_size

        mem = f"({mem_size // MIB} MiB)"
        raw_enc = Case(
            "raw ChaCha20-Poly1305 encrypt, 64 KiB", timed(lambda: raw_encrypt(size)), size, "enc"
        )
        raw_dec = Case(
            "raw ChaCha20-Poly1305 decrypt, 64 KiB", timed(raw_decrypt_fn(size)), size, "dec"
        )
        seal_file = Case(
            "crypto.age seal: file -> new file (1)",
            file_to_file(age, "encrypt", plain, recipient),
            size,
            "enc",
        )
        open_to_file = Case(
            "crypto.age open: file -> new file (1)",
            file_to_file(age, "decrypt", sealed, identity),
            size,
            "dec",
        )
        cases = [
            raw_enc,
            raw_dec,
            Case("crypto.age seal: generator -> discard", timed(seal_to_sink), size, "enc"),
            seal_file,
            Case("crypto.age open: file -> discard", timed(open_file), size, "dec"),
            Case(
                "  floor: read file + AEAD, no age logic",
                timed(lambda: read_and_open_floor(sealed)),
                size,
                "dec",
            ),
            open_to_file,
            Case(f"crypto.age open: memory -> discard {mem}", timed(open_memory), mem_size, "dec"),
        ]
        compared = [
            ("seal file -> file", seal_file, raw_enc),
            ("open file -> file", open_to_file, raw_dec),
        ]
        if args.compare:
            before = age_at(args.compare, Path(tmp))
            seal_before = Case(
                f"  the same at {args.compare}",
                file_to_file(before, "encrypt", plain, recipient),
                size,
                "enc",
            )
            open_before = Case(
                f"  the same at {args.compare}",
                file_to_file(before, "decrypt", sealed, identity),
                size,
                "dec",
            )
            cases.insert(cases.index(seal_file) + 1, seal_before)
            cases.insert(cases.index(open_to_file) + 1, open_before)
            compared[1:1] = [(f"  the same at {args.compare}", seal_before, raw_enc)]
            compared.append((f"  the same at {args.compare}", open_before, raw_dec))

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
                Case(f"pyrage encrypt: memory -> memory {mem}", timed(rage_seal), mem_size, "enc"),
                Case(f"pyrage decrypt: memory -> memory {mem}", timed(rage_open), mem_size, "dec"),
            ]

        run_rounds(cases, args.repeat)

    raw = {"enc": raw_enc.rate, "dec": raw_dec.rate}
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("cryptography", "pyrage")
        if _installed(name)
    )
    print(
        f"bid {args.size_mib} MiB, 64 KiB chunks, best of {args.repeat} interleaved rounds;"
        f" {versions}"
    )
    print(f"{'operation':<48}{'MB/s':>8}{'% of raw':>10}  vs")
    for case in cases:
        percent = 100 * case.rate / raw[case.versus]
        print(f"{case.label:<48}{case.rate:>8.0f}{percent:>9.0f}%  raw {case.versus}")
    print("\nsame-run ratios to raw ChaCha20-Poly1305 (raw's time / the case's; 1.00 = as fast):")
    for name, case, baseline in compared:
        print(ratio_line(name, case, baseline))
    for what, (before_mib, after_mib) in (("sealing", rss_seal), ("opening", rss_open)):
        print(
            f"peak RSS of a fresh process {what} the {args.size_mib} MiB bid: "
            f"{after_mib:.0f} MiB ({before_mib:.0f} MiB after imports, before {what})"
        )
    print("(1) the source file is in the page cache; the time includes the kernel allocating")
    print("    and filling page cache for the new file, and closing it; not disk speed")
    for note in notes:
        print(f"note: {note}")
    return 0


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="bid size (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument(
        "--compare",
        metavar="REF",
        default=None,
        help="also time file-to-file sealing and opening with crypto/age.py at git REF",
    )
    parser.add_argument(
        "--pyrage-max-mib",
        type=int,
        default=None,
        help="cap the in-memory rows' size (default: the bid size, if memory allows)",
    )
    parser.add_argument("--tmpdir", default=None, help="where to write the bid files")
    args = parser.parse_args(argv)
    if args.size_mib <= 0:
        parser.error("--size-mib must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    return run_bench(bench, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

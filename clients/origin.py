"""Identifiers of the machine that seals a bid (制作机器特征码), read best effort.

:func:`machine_identifiers` reads what this machine readily tells: its MAC addresses
(physical interfaces only where the OS says which), the OS machine id (``/etc/machine-id``,
Windows' ``MachineGuid``, macOS' ``IOPlatformUUID``), the hostname and disk serials where they
are readable without privileges. Nothing here may fail a seal: any source that errors is
skipped. The values never leave this module in clear: :func:`sealing_origin` turns them into
the keyed hashes of ``crypto/origin.py``, which is all the package carries.
"""

from __future__ import annotations

import contextlib
import platform
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from crypto.origin import origin_document, origin_key

__all__ = ["machine_identifiers", "sealing_origin"]

_SYS_NET = Path("/sys/class/net")
_SYS_BLOCK = Path("/sys/block")


def _read(path: Path, limit: int = 256) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return path.read_text(encoding="utf-8")[:limit].strip() or None
    return None


def _macs() -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for iface in sorted(_SYS_NET.iterdir()):
            # Only interfaces backed by a device: bridges, veths and tunnels have made-up MACs.
            if (iface / "device").exists() and (mac := _read(iface / "address")):
                found.append(mac)
    if not found:
        node = uuid.getnode()
        if not node & (1 << 40):  # the multicast bit marks a random stand-in, not a real MAC
            found.append(":".join(f"{(node >> s) & 0xFF:02x}" for s in range(40, -1, -8)))
    return found


def _machine_id() -> list[str]:
    for path in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        if value := _read(path):
            return [value]
    if sys.platform == "win32":
        with contextlib.suppress(OSError, ImportError):
            import winreg

            key = winreg.OpenKey(  # type: ignore[attr-defined,unused-ignore]
                winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined,unused-ignore]
                r"SOFTWARE\Microsoft\Cryptography",
            )
            value, _kind = winreg.QueryValueEx(key, "MachineGuid")  # type: ignore[attr-defined,unused-ignore]
            return [str(value)]
    if sys.platform == "darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
                capture_output=True,
                text=True,
                timeout=3,
                check=False,
            ).stdout
            for line in out.splitlines():
                if "IOPlatformUUID" in line:
                    return [line.split("=", 1)[1].strip().strip('"')]
    return []


def _disk_serials() -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for disk in sorted(_SYS_BLOCK.iterdir()):
            if disk.name.startswith(("loop", "ram", "zram", "dm-")):
                continue
            for name in ("device/serial", "serial", "device/wwid"):
                if value := _read(disk / name):
                    found.append(value)
                    break
    return found


def machine_identifiers() -> dict[str, list[str]]:
    """This machine's identifiers by kind, in clear, whichever could be read (maybe none)."""
    sources: dict[str, Any] = {
        "machine_id": _machine_id,
        "mac": _macs,
        "hostname": lambda: [socket.gethostname() or platform.node()],
        "disk_serial": _disk_serials,
    }
    found: dict[str, list[str]] = {}
    for kind, source in sources.items():
        try:
            values = [v for v in source() if v]
        except Exception:  # best effort: a source that fails is skipped, never the seal
            continue
        if values:
            found[kind] = values
    return found


def sealing_origin(tender: str, opening_recipient: str) -> dict[str, Any]:
    """The ``evalroom-origin.json`` of a bid sealed here: keyed hashes only."""
    key = origin_key(tender, opening_recipient)
    return origin_document(key, machine_identifiers(), "cli")

"""``python -m tests``: the whole check a contributor and CI run.

Installs the Debian packages some tests need when they are missing and we may (root with
apt-get), then runs ruff, mypy (strict), the layering contracts (import-linter) and pytest. Exit code: non-zero if any step fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# command or file -> Debian package: the age CLI (interop tests), Chromium (browser tests,
# driven by Playwright at /usr/bin/chromium; browsers are never downloaded by Playwright
# itself), WenQuanYi Micro Hei (the report's PDF embeds it: tests/test_report.py).
DEBIAN_PACKAGES = {
    "age": "age",
    "chromium": "chromium",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc": "fonts-wqy-microhei",
}


def _present(command_or_file: str) -> bool:
    if command_or_file.startswith("/"):
        return Path(command_or_file).exists()
    return shutil.which(command_or_file) is not None


def _install_debian_packages() -> None:
    missing = [pkg for what, pkg in DEBIAN_PACKAGES.items() if not _present(what)]
    if not missing or shutil.which("apt-get") is None or os.geteuid() != 0:
        return
    print(f"installing Debian packages: {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env)


def main() -> int:
    _install_debian_packages()
    steps = [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "mypy"],
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        [sys.executable, "-m", "pytest", *sys.argv[1:]],
    ]
    for step in steps:
        shown = step[2:] if step[0] == sys.executable else [Path(step[0]).name, *step[1:]]
        print("$ " + " ".join(shown), flush=True)
        code = subprocess.run(step, check=False).returncode
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())

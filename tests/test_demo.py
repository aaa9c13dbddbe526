"""``evalroom demo`` runs end to end on the embedded defaults, as a newcomer would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

# Subprocesses (CLIs, the demo's node): minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_demo_runs_the_whole_procedure_on_embedded_defaults_and_every_check_passes(
    lang: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["EVALROOM_DEMO_OUT"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "evalroom", "demo", "--lang", lang],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    done = "Demo finished" if lang == "en" else "演示完成"
    assert done in result.stdout
    assert "FAILED" not in result.stdout and "失败" not in result.stdout
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "award.pdf").read_bytes().startswith(b"%PDF")  # the 定标报告
    assert (tmp_path / "evidence.json.gz").stat().st_size > 0
    verdict = "verified offline" if lang == "en" else "离线验证"
    assert verdict in result.stdout and "every check holds" in result.stdout
    # red flags: the prices raise a signal the supervisor is shown, and the bundle carries it.
    flag = (
        "Red flag [price.arithmetic_series]"
        if lang == "en"
        else "风险提示 [price.arithmetic_series]"
    )
    assert flag in result.stdout
    # The price series, the shared machine and the copied proposal: each raised once.
    assert "signals of signals:GS-2026-0117: 3 raised" in result.stdout
    for code in (
        "price.arithmetic_series",
        "identity.same_machine",
        "documents.near_duplicate_text",
    ):
        assert result.stdout.count(f"[{code}]") == 1, code
    assert (tmp_path / "report-supervisor.html").read_text("utf-8").count("price.arithmetic_series")

"""The participants' command-line clients, run as real processes against a real node."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients.keyfile import BidKeys, KeyFileError, create_key_file, load_key_file
from evalroom.db.identity import create_user, grant_role
from tests.support import ROOT, InProcessNode, eventually, slack

# Every step starts a Python process: on a loaded 2-core machine a whole opening driven by
# the CLIs takes minutes, not the suite's default 120 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

FORMS = {
    "single": [
        {"name": "price", "type": "decimal", "required": True, "label": "投标报价（元）"},
        {"name": "duration_days", "type": "int", "required": True, "label": "工期（日历天）"},
    ]
}


@dataclass
class Done:
    rc: int
    out: str
    err: str


class Cli:
    """Runs ``python -m clients.<tool> …`` as a subprocess, without blocking the node's loop."""

    def __init__(self, server: str, tmp: Path) -> None:
        self.server = server
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
        self.users: dict[str, str] = {}
        self.running: list[asyncio.subprocess.Process] = []

    def stop_all(self) -> None:
        """After a failure: end what still runs, so its output shows in the report."""
        for proc in self.running:
            if proc.returncode is None:
                proc.kill()

    def key(self, name: str) -> Path:
        return self.tmp / f"{name}.key"

    async def start(
        self, tool: str, *args: str, env: dict[str, str] | None = None
    ) -> asyncio.Task[Done]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"clients.{tool}",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**self.env, **(env or {})},
        )
        self.running.append(proc)

        async def finish() -> Done:
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 60)
            except TimeoutError:
                proc.kill()
                out, err = await proc.communicate()
            assert proc.returncode is not None
            done = Done(proc.returncode, out.decode(), err.decode())
            print(f"--- {tool} {' '.join(args[:3])} -> {done.rc}\n{done.out}{done.err}")
            return done

        return asyncio.create_task(finish())

    async def run(self, tool: str, *args: str, env: dict[str, str] | None = None) -> Done:
        return await (await self.start(tool, *args, env=env))

    async def ok(self, tool: str, *args: str) -> Done:
        done = await self.run(tool, *args)
        assert done.rc == 0, (tool, args, done)
        assert "Traceback" not in done.err
        return done

    def as_(self, name: str) -> list[str]:
        return ["--server", self.server, "--key", str(self.key(name))]

    async def register(self, pool: asyncpg.Pool, names: list[str], orgs: dict[str, str]) -> None:
        """Each participant makes its key with the CLI; the admin registers the public key."""
        prefix = uuid.uuid4().hex[:6]
        for name in names:
            self.users[name] = f"{name}-{prefix}"

        def tool(name: str) -> str:
            return {"agency": "agency", "sup": "agency"}.get(
                name, "keyholder" if "kh" in name else "bidder"
            )

        await asyncio.gather(
            *(
                self.ok(tool(n), "keygen", "--user", self.users[n], "--out", str(self.key(n)))
                for n in names
            )
        )
        for name in names:
            saved = json.loads(self.key(name).read_text())
            assert stat.S_IMODE(self.key(name).stat().st_mode) == 0o600
            await create_user(pool, saved["user"], name, orgs.get(name), saved["public_key"])

    async def state(self, pool: asyncpg.Pool, tender: str) -> dict[str, Any]:
        state: dict[str, Any] = await pool.fetchval(
            "SELECT state FROM streams WHERE name = $1", f"tender:{tender}"
        )
        return state


def _config(cli: Cli, opening_at: datetime, window: int) -> Path:
    config = {
        "sections": [{"id": "S1", "name": "第一标段"}],
        "envelopes": ["single"],
        "opening_at": opening_at.isoformat(),
        "decryption_window_seconds": window,
        "min_bids": 3,
        "failure_rule": "committee",
        "threshold": {"k": 2, "n": 3},
        "keyholders": [cli.users[k] for k in ("kh1", "kh2", "kh3")],
        "forms": FORMS,
    }
    path = cli.tmp / "config.json"
    path.write_text(json.dumps(config, ensure_ascii=False))
    return path


async def _seal(cli: Cli, name: str, price: str, tender: str, recipient: str) -> Path:
    form = cli.tmp / f"form-{name}.json"
    form.write_text(json.dumps({"price": price, "duration_days": 180}))
    doc = cli.tmp / f"technical-{name}.pdf"
    doc.write_bytes(b"%PDF-1.4 " + name.encode() * 2000)
    sealed = cli.tmp / f"{name}.age"
    await cli.ok(
        "bidder", "seal", "--tender", tender, "--section", "S1", "--envelope", "single",
        "--form", str(form), "--attach", str(doc), "--recipient", recipient,
        "--out", str(sealed), *cli.as_(name),
    )  # fmt: skip
    return sealed


async def _agency_sets_up(
    cli: Cli, tender: str, opening_at: datetime, window: int, recipient_file: Path
) -> None:
    config = _config(cli, opening_at, window)
    await cli.ok(
        "agency", "create", tender, "--title", "公路养护工程", "--config", str(config),
        "--recipient-file", str(recipient_file), *cli.as_("agency"),
    )  # fmt: skip
    # The supervising authority (行政监督部门) appoints the supervisor, never the agency.
    await cli.ok("agency", "grant", tender, cli.users["sup"], "supervisor", *cli.as_("authority"))
    await cli.ok("agency", "publish", tender, *cli.as_("agency"))


async def _keyholder_and_supervisor_follow(cli: Cli, pool: asyncpg.Pool) -> None:
    """The second keyholder hands in after the first; the supervisor signs after the agency
    (each waits on the tender's state, not on time)."""

    async def shares_in() -> bool:
        state = await cli.state(pool, "CLI1")
        return len(state.get("opening", {}).get("single", {}).get("shares", [])) == 1

    await eventually(shares_in, timeout=slack(30))
    keydir = cli.tmp / "opening-key"
    kh2 = await cli.ok("keyholder", "submit", "CLI1", str(keydir / "share-3.txt"), *cli.as_("kh2"))
    assert "已提交第 3 份分片" in kh2.out

    async def agency_signed() -> bool:
        state = await cli.state(pool, "CLI1")
        return "agency" in state.get("opening", {}).get("single", {}).get("signed_by", {})

    await eventually(agency_signed, timeout=slack(30))
    await cli.ok("agency", "sign-record", "CLI1", *cli.as_("sup"))


async def test_a_whole_single_envelope_opening_driven_by_the_clis(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    cli = Cli(node.url, tmp_path)
    bidders = ["a", "b", "c", "d"]
    prices = {"a": "1000000.00", "b": "980000.50", "c": "1025000.00", "d": "990000.00"}
    staff = ["agency", "authority", "sup", "kh1", "kh2", "kh3"]
    await cli.register(pool, staff + bidders, {n: f"company-{n}" for n in bidders})
    await grant_role(pool, cli.users["agency"], "platform", "agency")
    await grant_role(pool, cli.users["authority"], "platform", "authority")

    # The opening key is made on the agency's machine; bids are sealed offline to it.
    keydir = tmp_path / "opening-key"
    made = await cli.ok("agency", "opening-key", "--k", "2", "--n", "3", "--out-dir", str(keydir))
    assert "不同的保管人" in made.out
    recipient = (keydir / "recipient.txt").read_text().strip()
    assert sorted(p.name for p in keydir.iterdir()) == [
        "recipient.txt", "share-1.txt", "share-2.txt", "share-3.txt",
    ]  # fmt: skip
    sealed = dict(
        zip(
            bidders,
            await asyncio.gather(*(_seal(cli, n, prices[n], "CLI1", recipient) for n in bidders)),
            strict=True,
        )
    )
    bid_keys = json.loads((tmp_path / "a.key.bids.json").read_text())
    assert bid_keys["bids"][0]["identity"].startswith("AGE-SECRET-KEY-1")

    # The tender opens for bids; bidders join and submit before the opening time.
    # Generous margins: each step here starts a Python process, and a loaded machine makes
    # that slow; a deadline passing early would fail the test for the wrong reason.
    opening_at = datetime.now(UTC) + timedelta(seconds=slack(10))
    await _agency_sets_up(
        cli, "CLI1", opening_at, window=round(slack(6)), recipient_file=keydir / "recipient.txt"
    )
    await asyncio.gather(*(cli.ok("bidder", "join", "CLI1", *cli.as_(n)) for n in bidders))
    submitted = await asyncio.gather(
        *(
            cli.ok(
                "bidder",
                "submit",
                "--tender",
                "CLI1",
                "--section",
                "S1",
                "--envelope",
                "single",
                str(sealed[n]),
                *cli.as_(n),
            )  # fmt: skip
            for n in bidders
        )
    )
    assert all("回执签名有效" in s.out and "sha256" in s.out for s in submitted)

    # The ceremony runs live: agency, four bidders (d keeps its key), a keyholder waiting.
    agency = await cli.start(
        "agency", "ceremony", "CLI1", "--answer", "O1=已核实，报价无误", "--confirm-wait", "30",
        "--timeout", "50", *cli.as_("agency"),
    )  # fmt: skip
    runs = {
        n: await cli.start(
            "bidder",
            "opening",
            "CLI1",
            "--confirm",
            "--timeout",
            "50",
            *cli.as_(n),
            *(["--object", "请核实b公司报价"] if n == "c" else []),
            *(["--no-release"] if n == "d" else []),
            *(["--lang", "en"] if n == "b" else []),
        )  # fmt: skip
        for n in bidders
    }
    kh1 = await cli.start(
        "keyholder", "submit", "CLI1", str(keydir / "share-1.txt"), "--wait", "--timeout", "50",
        *cli.as_("kh1"),
    )  # fmt: skip

    background = [agency, kh1, *runs.values()]
    try:
        await _keyholder_and_supervisor_follow(cli, pool)
        results = {n: await task for n, task in runs.items()}
        results["agency"] = await agency
        results["kh1"] = await kh1
    except BaseException:
        cli.stop_all()
        await asyncio.gather(*background, return_exceptions=True)
        raise
    for name, done in results.items():
        assert done.rc == 0, (name, done)
        assert "Traceback" not in done.err, (name, done.err)

    listed = await cli.ok("bidder", "receipts", "--key", str(cli.key("a")))
    assert "bid.submitted" in listed.out and "有效" in listed.out
    (saved,) = (tmp_path / "a.key.receipts").glob("*.json")
    forged = json.loads(saved.read_text())
    forged["receipt"]["size"] += 1
    saved.write_text(json.dumps(forged))
    checked = await cli.run("bidder", "receipts", "--key", str(cli.key("a")), "--lang", "en")
    assert checked.rc == 1 and "bad signature" in checked.out

    state = await cli.state(pool, "CLI1")
    assert state["phase"] == "opened"
    record = state["opening"]["single"]["record"]
    by_org = {b["org"]: b for b in record["bids"]}
    assert {b["status"] for b in record["bids"]} == {"decrypted"}
    assert by_org["company-d"]["via"] == "committee"
    assert by_org["company-a"]["via"] == "bidder"
    assert by_org["company-a"]["form"] == {"price": "1000000.00", "duration_days": 180}
    assert sorted(record["confirmed"]) == [f"company-{n}" for n in bidders]
    assert record["objections"][0]["answer"] == "已核实，报价无误"
    assert set(record["signed_by"]) == {"agency", "supervisor"}

    a_out = results["a"].out
    assert "唱标" in a_out and "company-b" in a_out and "980000.50" in a_out
    assert "本单位" in a_out and "已确认" in a_out and "开标结束" in a_out
    assert "不释放" in results["d"].out
    b_out = results["b"].out
    assert "Read-out:" in b_out and "S1-B02 (yours)" in b_out and "Confirmed." in b_out
    c_out = results["c"].out
    assert c_out.index("答复 O1：已核实，报价无误") < c_out.index("确认开标记录…")
    assert "开标完成" in results["agency"].out


async def test_a_late_submit_is_refused_with_the_servers_sentence_in_either_language(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    cli = Cli(node.url, tmp_path)
    await cli.register(
        pool, ["agency", "authority", "sup", "kh1", "kh2", "kh3", "late"], {"late": "company-late"}
    )
    await grant_role(pool, cli.users["agency"], "platform", "agency")
    await grant_role(pool, cli.users["authority"], "platform", "authority")
    keydir = tmp_path / "opening-key"
    await cli.ok("agency", "opening-key", "--k", "2", "--n", "3", "--out-dir", str(keydir))
    recipient = (keydir / "recipient.txt").read_text().strip()
    sealed = await _seal(cli, "late", "900000.00", "CLI2", recipient)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await _agency_sets_up(cli, "CLI2", past, window=60, recipient_file=keydir / "recipient.txt")
    refused = await cli.run(
        "agency", "grant", "CLI2", cli.users["agency"], "supervisor", *cli.as_("agency")
    )
    assert refused.rc == 1 and "not_appointer" in refused.err and "Traceback" not in refused.err
    await cli.ok("bidder", "join", "CLI2", *cli.as_("late"))

    submit = ["submit", "--tender", "CLI2", "--section", "S1", str(sealed), *cli.as_("late")]
    zh, en, en_env = await asyncio.gather(
        cli.run("bidder", *submit),
        cli.run("bidder", *submit, "--lang", "en"),
        cli.run("bidder", *submit, env={"EVALROOM_LANG": "en"}),
    )
    assert zh.rc == 1 and "deadline_passed" in zh.err
    assert "投标截止时间已过，不再接收投标文件。" in zh.err
    for done in (en, en_env):
        assert done.rc == 1 and "deadline_passed" in done.err
        assert "The bid deadline has passed." in done.err
    assert all("Traceback" not in d.err for d in (zh, en, en_env))
    assert not (tmp_path / "late.key.receipts").exists()


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "me.key"
    key = create_key_file(path, "me")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path).public_key == key.public_key
    with pytest.raises(KeyFileError) as exists:
        create_key_file(path, "me")
    assert exists.value.code == "exists"
    assert load_key_file(path).public_key == key.public_key


def test_the_bid_key_of_the_submitted_version_is_the_one_found(tmp_path: Path) -> None:
    sealed = tmp_path / "bid.age"
    sealed.write_bytes(b"x")
    keys = BidKeys.load(tmp_path / "me.key.bids.json", "me")
    keys.add("T1", "S1", "single", "AGE-SECRET-KEY-1OLD", sealed, "aa")
    keys.add("T1", "S1", "single", "AGE-SECRET-KEY-1NEW", sealed, "bb")
    keys.save()
    again = BidKeys.load(tmp_path / "me.key.bids.json", "me")
    assert stat.S_IMODE(again.path.stat().st_mode) == 0o600
    assert again.find("T1", "S1", "single", "aa") is not None
    assert again.find("T1", "S1", "single", "aa").identity.endswith("OLD")  # type: ignore[union-attr]
    assert again.find("T1", "S1", "single").identity.endswith("NEW")  # type: ignore[union-attr]
    assert again.find("T1", "S1", "single", "cc") is None
    with pytest.raises(KeyFileError):
        BidKeys.load(tmp_path / "me.key.bids.json", "someone-else")

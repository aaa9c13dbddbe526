"""Evidence red flags (issue 12): identity and origin, documents, and the service that gathers
them after a real opening."""

from __future__ import annotations

import io
import json
import random
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pypdf
import pytest
from click.testing import CliRunner
from reportlab.pdfgen import canvas

import clients.origin
from clients.bidder import main as bidder_main
from clients.keyfile import BidKeys, bid_keys_path
from clients.opening import make_opening_key, pack_bid, seal_envelope, upload_envelope
from crypto import age
from crypto.bidpackage import read_form, read_origin
from crypto.origin import ORIGIN_NAME, keyed_hash, origin_key, parse_origin
from evalroom.domain.redflags.documents import (
    Document,
    FormFacts,
    document_signals,
    parse_amount_words,
    shingle_hashes,
)
from evalroom.domain.redflags.identity import (
    BidOrigin,
    identity_signals,
    normalise_name,
    normalise_phone,
)
from evalroom.domain.redflags.signal import Signal
from evalroom.domain.redflags.thresholds import Thresholds
from evalroom.domain.rules import RuleError
from evalroom.services.document_facts import package_facts
from evalroom.services.redflag_evidence import evidence_signals
from tests.support import InProcessNode
from tests.test_opening import Opening, _wait_until

KEY = origin_key("T1", "age1example")


def _codes(signals: list[Signal]) -> list[str]:
    return [s.code for s in signals]


def _machine(**values: str) -> dict[str, frozenset[str]]:
    hashes = {k: keyed_hash(KEY, k, v) for k, v in values.items()}
    return {k: frozenset([h]) for k, h in hashes.items() if h is not None}


# -- the origin format and the sealing client ----------------------------------------------


def test_keyed_hashes_match_across_spellings_of_one_identifier_and_differ_by_kind() -> None:
    assert keyed_hash(KEY, "mac", "A4-5E-60-D1-22-33") == keyed_hash(
        KEY, "mac", "a4:5e:60:d1:22:33"
    )
    assert keyed_hash(KEY, "hostname", "abc") != keyed_hash(KEY, "disk_serial", "abc")
    assert keyed_hash(KEY, "mac", "00:00:00:00:00:00") is None
    assert keyed_hash(origin_key("T2", "age1example"), "hostname", "pc") != keyed_hash(
        KEY, "hostname", "pc"
    )


def test_an_origin_document_that_is_not_hashes_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_origin({"format": "evalroom-origin/1", "hashes": {"mac": ["a4:5e:60:d1:22:33"]}})
    with pytest.raises(ValueError):
        parse_origin({"format": "evalroom-origin/1", "hashes": {"cpu": ["0" * 64]}})


def test_the_sealing_client_puts_only_keyed_hashes_of_the_machine_in_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear = {
        "machine_id": ["5c0ffee0c0ffee0c0ffee0c0ffee0c0f"],
        "mac": ["A4:5E:60:D1:22:33", "a4:5e:60:d1:22:34"],
        "hostname": ["BIDDER-PC-JIA"],
        "disk_serial": ["WD-WX11A1234567"],
    }
    monkeypatch.setattr(clients.origin, "machine_identifiers", lambda: clear)
    runner = CliRunner()
    key = tmp_path / "me.key"
    assert runner.invoke(bidder_main, ["keygen", "--user", "b1", "--out", str(key)]).exit_code == 0
    form = tmp_path / "form.json"
    form.write_text(json.dumps({"price": "100.00"}))
    recipient, _shares = make_opening_key(2, 3)
    sealed = tmp_path / "bid.age"
    result = runner.invoke(
        bidder_main,
        ["seal", "--tender", "T1", "--section", "S1", "--form", str(form), "--recipient",
         recipient, "--out", str(sealed), "--key", str(key)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    identity = BidKeys.load(bid_keys_path(key), "b1").entries[0].identity
    plain = io.BytesIO()
    with sealed.open("rb") as src:
        age.decrypt(src, plain, [identity])
    package = plain.getvalue()
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        contents = b"".join(archive.read(n) + n.encode() for n in archive.namelist())
        origin = read_origin(archive)
    assert read_form(io.BytesIO(package))[1] == []  # the origin is not an attachment
    for values in clear.values():
        for value in values:
            for spelling in {value, value.lower(), value.replace(":", "").lower()}:
                assert spelling.encode() not in contents and spelling.encode() not in package
    k = origin_key("T1", recipient)
    assert origin == {
        kind: frozenset(h for v in values if (h := keyed_hash(k, kind, v)))
        for kind, values in clear.items()
    }


def test_identifiers_of_this_machine_are_read_without_failing() -> None:
    found = clients.origin.machine_identifiers()
    assert set(found) <= {"machine_id", "mac", "hostname", "disk_serial"}
    assert all(isinstance(v, str) and v for values in found.values() for v in values)


# -- identity flags ------------------------------------------------------------------------


def test_the_same_machine_behind_two_bidders_is_flagged_with_the_kinds_shared() -> None:
    bids = [
        BidOrigin("S1-B01", "a", _machine(machine_id="m1", mac="a4:5e:60:d1:22:33")),
        BidOrigin("S1-B02", "b", _machine(machine_id="m1", mac="a4:5e:60:d1:22:33")),
        BidOrigin("S1-B03", "c", _machine(machine_id="m3", mac="a4:5e:60:d1:22:99")),
    ]
    [signal] = identity_signals(bids)
    assert signal.code == "identity.same_machine"
    assert signal.evidence.bids == ("S1-B01", "S1-B02")
    assert signal.evidence.fields == ("origin.machine_id", "origin.mac")
    assert "系统机器码" in signal.message_zh and "OS machine id" in signal.message_en


def test_one_bidders_own_bids_sharing_a_machine_raise_nothing() -> None:
    bids = [
        BidOrigin("S1-B01", "a", _machine(hostname="pc"), frozenset({"10.0.0.1"})),
        BidOrigin("S2-B01", "a", _machine(hostname="pc"), frozenset({"10.0.0.1"})),
    ]
    assert identity_signals(bids) == []


def test_a_kind_left_out_of_machine_kinds_does_not_flag() -> None:
    bids = [
        BidOrigin("B1", "a", _machine(hostname="pc")),
        BidOrigin("B2", "b", _machine(hostname="pc")),
    ]
    assert _codes(identity_signals(bids)) == ["identity.same_machine"]
    t = Thresholds.from_dict({"machine_kinds": ["machine_id", "mac"]})
    assert identity_signals(bids, t) == []


def test_the_same_upload_ip_or_login_key_behind_two_bidders_is_flagged() -> None:
    bids = [
        BidOrigin(
            "B1", "a", upload_ips=frozenset({"203.0.113.5"}), login_keys=frozenset({"sha256:k1"})
        ),
        BidOrigin(
            "B2", "b", upload_ips=frozenset({"203.0.113.5"}), login_keys=frozenset({"sha256:k1"})
        ),
        BidOrigin(
            "B3", "c", upload_ips=frozenset({"203.0.113.6"}), login_keys=frozenset({"sha256:k3"})
        ),
    ]
    signals = identity_signals(bids)
    assert _codes(signals) == ["identity.same_ip", "identity.same_login_key"]
    assert signals[0].evidence.figures["ip"] == "203.0.113.5"
    ignoring = Thresholds.from_dict({"ip_ignore": ["203.0.113.5"]})
    assert _codes(identity_signals(bids, ignoring)) == ["identity.same_login_key"]


def test_names_and_phones_compare_normalised() -> None:
    assert normalise_name("张 三") == normalise_name("张三") == "张三"
    assert normalise_name("Li·Ming") == normalise_name("li ming")
    assert normalise_name("王") is None
    assert normalise_phone("+86 138-0013-8000") == normalise_phone("13800138000") == "13800138000"
    assert normalise_phone("0086 13800138000") == "13800138000"
    assert normalise_phone("12345") is None


def test_the_same_project_manager_or_phone_in_two_bids_is_flagged_and_others_are_not() -> None:
    bids = [
        BidOrigin("B1", "a", form={"project_manager": "张 三", "contact_phone": "+86 13800138000"}),
        BidOrigin("B2", "b", form={"contact": "张三", "contact_phone": "138-0013-8000"}),
        BidOrigin("B3", "c", form={"project_manager": "李四", "contact_phone": "13900139000"}),
    ]
    signals = identity_signals(bids)
    assert _codes(signals) == ["identity.same_person", "identity.same_phone"]
    person = signals[0]
    assert person.evidence.bids == ("B1", "B2")
    assert person.evidence.fields == ("contact", "project_manager")
    assert "张三" in person.message_zh


def test_repeated_bid_ids_are_refused() -> None:
    with pytest.raises(RuleError) as info:
        identity_signals([BidOrigin("B1", "a"), BidOrigin("B1", "b")])
    assert info.value.code == "invalid"


@pytest.mark.parametrize(
    "raw",
    [
        {"machine_kinds": ["cpu"]},
        {"person_fields": "project_manager"},
        {"text_similarity_min": 0},
        {"text_similarity_min": 1.5},
        {"shingle_chars": 0},
        {"passage_chars": 5},
        {"file_min_bytes": "big"},
    ],
)
def test_evidence_thresholds_out_of_range_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(RuleError) as info:
        Thresholds.from_dict(raw)
    assert info.value.code == "invalid_config"


def test_evidence_thresholds_read_back_as_json() -> None:
    t = Thresholds.from_dict({"person_fields": ["pm"], "text_similarity_min": "0.7"})
    out = t.to_dict()
    assert out["person_fields"] == ["pm"] and out["text_similarity_min"] == 0.7
    assert Thresholds.from_dict(out) == t


# -- documents: files and metadata ---------------------------------------------------------


def _pdf(author: str, created: str, creator: str = "Microsoft Word 2016") -> bytes:
    """A real PDF (reportlab), its metadata then set as an office suite would (pypdf)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, f"technical proposal by {author}")
    c.showPage()
    c.save()
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(buf.getvalue())))
    writer.add_metadata({"/Author": author, "/Creator": creator, "/CreationDate": created})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx(creator: str, company: str, paragraphs: list[str], created: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{creator}</dc:creator><cp:lastModifiedBy>{creator}</cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
        "</cp:coreProperties>"
    )
    app = (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Template>Normal.dotm</Template><Application>Microsoft Office Word</Application>"
        f"<AppVersion>16.0000</AppVersion><Company>{company}</Company></Properties>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("docProps/core.xml", core)
        z.writestr("docProps/app.xml", app)
        z.writestr(
            "word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'
        )
    return out.getvalue()


def _facts(bid: str, bidder: str, name: str, data: bytes) -> Document:
    package = io.BytesIO()
    pack_bid_bytes(package, {name: data})
    package.seek(0)
    [d] = package_facts(package).documents
    return Document(bid, bidder, d.name, d.sha256, d.size, d.metadata, d.text)


def pack_bid_bytes(dst: io.BytesIO, files: dict[str, bytes]) -> None:
    from crypto.bidpackage import write_package

    write_package(dst, {"price": "1.00"}, dict(files))


def test_an_identical_file_across_bidders_is_flagged_and_a_small_one_is_not() -> None:
    big, small = b"scan" * 1000, b"x" * 100
    docs = [
        _facts("B1", "a", "营业执照.pdf", big),
        _facts("B2", "b", "license.pdf", big),
        _facts("B1", "a", "note.txt", small),
        _facts("B2", "b", "note.txt", small),
    ]
    [signal] = [s for s in document_signals(docs) if s.code == "documents.identical_file"]
    assert signal.evidence.bids == ("B1", "B2")
    assert signal.evidence.fields == ("license.pdf", "营业执照.pdf")
    assert signal.evidence.figures["size"] == "4000"


def test_pdfs_with_the_same_author_are_flagged_and_with_different_ones_not() -> None:
    same = [
        _facts("B1", "a", "t.pdf", _pdf("张三 甲公司", "D:20261101090000+08'00'")),
        _facts("B2", "b", "t.pdf", _pdf("张三 甲公司", "D:20261102100000+08'00'")),
    ]
    assert same[0].metadata["author"] == "张三 甲公司" and "software" in same[0].metadata
    signals = [s for s in document_signals(same) if s.code == "documents.same_metadata"]
    assert len(signals) == 1 and signals[0].evidence.fields == ("metadata.author",)
    assert "Microsoft Word 2016" in signals[0].evidence.figures["software"]
    other = [
        _facts("B1", "a", "t.pdf", _pdf("张三", "D:20261101090000+08'00'")),
        _facts("B2", "b", "t.pdf", _pdf("李四", "D:20261102100000+08'00'")),
    ]
    assert not [s for s in document_signals(other) if s.code == "documents.same_metadata"]


def test_a_default_author_like_administrator_identifies_nobody() -> None:
    docs = [
        _facts("B1", "a", "t.pdf", _pdf("Administrator", "D:20261101090000")),
        _facts("B2", "b", "t.pdf", _pdf("administrator", "D:20261102090000")),
    ]
    assert not [s for s in document_signals(docs) if s.code == "documents.same_metadata"]


def test_docx_with_the_same_creator_company_and_creation_time_are_flagged() -> None:
    at = "2026-11-03T09:15:00Z"
    docs = [
        _facts("B1", "a", "技术标.docx", _docx("王五", "某咨询公司", ["甲"], at)),
        _facts("B2", "b", "技术标.docx", _docx("王五", "某咨询公司", ["乙"], at)),
        _facts("B3", "c", "技术标.docx", _docx("赵六", "丙公司", ["丙"], "2026-11-04T10:00:00Z")),
    ]
    assert (
        docs[0].metadata["company"] == "某咨询公司"
        and docs[0].metadata["template"] == "Normal.dotm"
    )
    [signal] = [s for s in document_signals(docs) if s.code == "documents.same_metadata"]
    assert signal.evidence.bids == ("B1", "B2")
    assert signal.evidence.fields == (
        "metadata.author",
        "metadata.last_modified_by",
        "metadata.company",
        "metadata.created",
    )  # the template Normal.dotm is everyone's default, not shared evidence


def test_a_corrupt_document_gives_its_hash_and_no_metadata() -> None:
    d = _facts("B1", "a", "broken.docx", b"PK\x03\x04 not really a zip" * 100)
    assert d.metadata == {} and d.text == "" and d.size == 2100


# -- documents: near-duplicate text --------------------------------------------------------

_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def _proposal(seed: int, paragraphs: int = 30, length: int = 120) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_CHARS) for _ in range(length)) for _ in range(paragraphs)]


def _text_doc(bid: str, bidder: str, paragraphs: list[str]) -> Document:
    return Document(bid, bidder, "技术标.docx", f"sha-{bid}", 1, {}, "\n".join(paragraphs))


@pytest.mark.parametrize("paragraphs", [30, 200])  # exact comparison; MinHash LSH first
def test_a_proposal_copied_with_one_paragraph_changed_is_flagged_with_shared_passages(
    paragraphs: int,
) -> None:
    original = _proposal(1, paragraphs)
    copied = list(original)
    copied[7] = _proposal(99, 1)[0]  # one paragraph rewritten
    unrelated = _proposal(2, paragraphs)
    docs = [
        _text_doc("B1", "a", original),
        _text_doc("B2", "b", copied),
        _text_doc("B3", "c", unrelated),
    ]
    [signal] = [s for s in document_signals(docs) if s.code == "documents.near_duplicate_text"]
    assert signal.evidence.bids == ("B1", "B2")
    figures = signal.evidence.figures
    assert float(figures["jaccard"]) > 0.85
    if paragraphs == 200:  # 24,000 shingles: over EXACT_BELOW, found by LSH
        assert abs(float(figures["minhash_estimate"]) - float(figures["jaccard"])) < 0.15
    else:
        assert figures["minhash_estimate"] == "n/a"
    text = "\n".join(original)
    # Paragraph breaks are not text: what is shared is the run before the change and the run
    # after it, each shown trimmed.
    passages = [figures["passage_1"], figures["passage_2"]]
    assert "passage_3" not in figures
    for p in passages:
        assert len(p) == Thresholds().passage_chars and p.endswith("…")
        assert p.rstrip("…") in text.replace("\n", " ")
    assert original[7][:40] not in " ".join(passages)  # the rewritten paragraph is not shared


def test_texts_just_below_the_similarity_threshold_are_not_flagged() -> None:
    base = _proposal(3)
    half = base[:12] + _proposal(4)[12:]  # 12 of 30 paragraphs shared: Jaccard about 0.25
    docs = [_text_doc("B1", "a", base), _text_doc("B2", "b", half)]
    assert not document_signals(docs)
    lower = Thresholds.from_dict({"text_similarity_min": 0.2})
    assert _codes(document_signals(docs, thresholds=lower)) == ["documents.near_duplicate_text"]


def test_a_short_text_is_not_compared_and_one_bidders_own_texts_are_not_flagged() -> None:
    short = ["相同的很短的一句话"]
    assert not document_signals([_text_doc("B1", "a", short), _text_doc("B2", "b", short)])
    long = _proposal(5)
    assert not document_signals([_text_doc("S1-B01", "a", long), _text_doc("S2-B01", "a", long)])


def test_shingles_skip_punctuation_and_case_so_reflowed_copies_match() -> None:
    a = shingle_hashes("The Contractor shall, within 30 days, submit the plan.", 10)
    b = shingle_hashes("the contractor shall within 30 days\nsubmit the plan", 10)
    assert list(a.unique) == list(b.unique) and len(a.unique) > 0


# -- documents: the same error in the forms ------------------------------------------------


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分", "1234567.89"),
        ("人民币壹仟万元整", "10000000"),
        ("壹亿零伍拾万零叁元", "100500003"),
        ("玖拾万圆正", "900000"),
        ("拾元", "10"),
    ],
)
def test_amounts_in_words_parse(words: str, value: str) -> None:
    assert parse_amount_words(words) == Decimal(value)


def test_text_that_is_not_an_amount_in_words_does_not_parse() -> None:
    assert parse_amount_words("一百万 dollars") is None
    assert parse_amount_words("") is None


def test_the_same_wrong_amount_in_words_in_two_bids_is_flagged_and_a_right_one_is_not() -> None:
    wrong = {
        "price": "1234500.00",
        "price_words": "壹佰贰拾叁万肆仟伍佰元整",
    }  # 1,234,500 ≠ 1,234,500? no
    wrong["price_words"] = "壹佰贰拾叁万伍仟肆佰元整"  # 1,235,400 for 1,234,500
    right = {"price": "1234500.00", "price_words": "壹佰贰拾叁万肆仟伍佰元整"}
    forms = [
        FormFacts("B1", "a", wrong),
        FormFacts("B2", "b", dict(wrong)),
        FormFacts("B3", "c", right),
    ]
    [signal] = document_signals([], forms)
    assert signal.code == "documents.same_form_error"
    assert signal.evidence.bids == ("B1", "B2")
    assert signal.evidence.figures["words_value"] == "1235400"
    assert not document_signals([], [FormFacts("B1", "a", right), FormFacts("B2", "b", right)])


def test_the_same_arithmetic_error_in_two_bids_is_flagged_and_a_right_sum_is_not() -> None:
    t = Thresholds.from_dict({"form_sums": {"price": ["labour", "material"]}})
    # a and b are off by the same 1,000.00 with different figures; c adds up; d is off by 5.
    forms = [
        FormFacts("B1", "a", {"price": "101000.00", "labour": "40000.00", "material": "60000.00"}),
        FormFacts("B2", "b", {"price": "91000", "labour": "30000.00", "material": "60000.00"}),
        FormFacts("B3", "c", {"price": "90000.00", "labour": "30000.00", "material": "60000.00"}),
        FormFacts("B4", "d", {"price": "90005.00", "labour": "30000.00", "material": "60000.00"}),
    ]
    [signal] = document_signals([], forms, t)
    assert signal.code == "documents.same_sum_error"
    assert signal.evidence.bids == ("B1", "B2")
    assert signal.evidence.fields == ("price", "labour", "material")
    assert signal.evidence.figures["difference"] == "1000"
    assert document_signals([], forms) == []  # no sums declared: nothing is checked


def test_form_sums_that_are_not_a_mapping_of_fields_are_refused() -> None:
    for raw in (
        {"form_sums": ["price"]},
        {"form_sums": {"price": []}},
        {"form_sums": {"price": ["price"]}},
    ):
        with pytest.raises(RuleError):
            Thresholds.from_dict(raw)
    t = Thresholds.from_dict({"form_sums": {"price": ["labour", "material"]}})
    assert t.to_dict()["form_sums"] == {"price": ["labour", "material"]}
    assert Thresholds.from_dict(t.to_dict()) == t


# -- the service after a real opening ------------------------------------------------------


@pytest.mark.slow
async def test_evidence_signals_after_an_opening_flag_the_shared_machine_and_copied_proposal(
    node: InProcessNode, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    o = Opening(node, pool, tmp_path)
    opening_at = await o.setup("EV1", opening_in=5.0, window=60)
    proposal = _proposal(7)
    copied = list(proposal)
    copied[3] = _proposal(8, 1)[0]
    texts = {"a": proposal, "b": copied, "c": _proposal(9)}
    # a and b were sealed on one machine; c elsewhere (its own identifiers).
    machines = {
        "a": {"machine_id": ["1111aaaa2222bbbb3333cccc4444dddd"], "hostname": ["shared-pc"]},
        "b": {"machine_id": ["1111aaaa2222bbbb3333cccc4444dddd"], "hostname": ["shared-pc"]},
        "c": {"machine_id": ["9999eeee8888ffff7777aaaa6666bbbb"], "hostname": ["other-pc"]},
    }
    from crypto.origin import origin_document

    key = origin_key("EV1", o.recipient)
    prices = {"a": "900000.00", "b": "910000.00", "c": "950000.00"}
    for name in texts:
        await o.bidder(name)
        package, sealed = tmp_path / f"{name}.zip", tmp_path / f"{name}.age"
        doc = _docx(
            f"author-{name}", f"company-{name}", texts[name], f"2026-11-0{ord(name) - 96}T09:00:00Z"
        )
        pack_bid(
            package,
            {"price": prices[name], "duration_days": 180},
            {"技术标.docx": doc},
            origin_document(key, machines[name], "cli"),
        )
        o.bid_keys[f"{name}/single"] = seal_envelope(package, sealed, o.recipient)
        await upload_envelope(o.clients[name], "EV1", "S1", "single", sealed)
    await _wait_until(opening_at)
    await o.clients["agency"].command(o.stream, "opening.start")
    state = await o.ceremony(tuple(texts))
    bids = state["opening"]["single"]["bids"]
    number = {b["org"].removeprefix("company-"): n for n, b in bids.items()}
    signals = await evidence_signals(pool, "EV1")
    by_code: dict[str, list[Signal]] = {}
    for s in signals:
        by_code.setdefault(s.code, []).append(s)
    [machine] = by_code["identity.same_machine"]
    assert machine.evidence.bids == (number["a"], number["b"])
    assert machine.evidence.fields == ("origin.machine_id", "origin.hostname")
    [text] = by_code["documents.near_duplicate_text"]
    assert text.evidence.bids == (number["a"], number["b"])
    # Every upload came from this test's loopback address, with each bidder's own key: loopback
    # identifies nobody (ignored by default), and flags once it is no longer ignored.
    assert "identity.same_ip" not in by_code and "identity.same_login_key" not in by_code
    recorded = await evidence_signals(pool, "tender:EV1", Thresholds.from_dict({"ip_ignore": []}))
    [ip] = [s for s in recorded if s.code == "identity.same_ip"]
    assert len(ip.evidence.bids) == 3 and ip.evidence.figures["ip"] in ("127.0.0.1", "::1")
    assert "documents.same_metadata" not in by_code
    assert all(json.dumps(s.to_dict(), ensure_ascii=False) for s in signals)
    for c in o.clients.values():
        await c.close()


async def test_evidence_signals_of_an_unknown_tender_are_refused(pool: asyncpg.Pool) -> None:
    with pytest.raises(RuleError) as info:
        await evidence_signals(pool, "no-such-tender")
    assert info.value.code == "unknown_stream"


def test_the_origin_entry_is_reserved_in_a_package(tmp_path: Path) -> None:
    from crypto.bidpackage import PackageError

    with pytest.raises(PackageError):
        pack_bid(tmp_path / "p.zip", {}, {ORIGIN_NAME: b"{}"})

"""The evaluation session (评标会话) in lines and tables, zh-CN or English.

:class:`SessionRender` turns events and the folded :class:`SessionView` into text. Each event
type has one formatter in :data:`FORMATTERS` (``type -> formatter``); a type with none reads
as "other event". The award after the session (``award.*``, 定标) is rendered here too: it runs
in the session's stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from clients.cli_common import Out, table
from clients.folds.session import SessionView, session_id

# Refusals a supervisor is alerted to: someone tried what their role or venue does not allow.
ATTEMPTS = frozenset(
    {
        "forbidden",
        "not_subscribed_role",
        "not_your_venue",
        "not_a_committee_member",
        "not_the_chair",
        "withdrawn",
        "identity_unverified",
        "bad_signature",
        # Separation of duties: someone tried to appoint, or be given, a role it may not hold.
        "not_appointer",
        "not_grantable",
        "self_grant",
        "conflict_of_roles",
        "conflict_of_interest",
    }
)

# Events a supervisor must act on or know at once (besides the conditional ones below).
ALERTS = frozenset(
    {
        "session.venue_lost",
        "session.paused",
        "session.draw_failed",
        "session.clarification_asked",
        "session.clarification_expired",
        "session.goback_requested",
        "session.start_wait_over",
        "session.sealed",
        "session.new_committee_required",
        "session.warning",
        # 有效投标不足三个: the committee's recorded decision, continue or 否决所有投标.
        "session.few_valid",
        "award.objection",
    }
)

Payload = dict[str, Any]
Event = dict[str, Any]
Formatter = Callable[["SessionRender", Payload, Event, SessionView], "str | None"]
FORMATTERS: dict[str, Formatter] = {}


def formats(kind: str) -> Callable[[Formatter], Formatter]:
    """Register the formatter of one event type."""

    def register(fn: Formatter) -> Formatter:
        if kind in FORMATTERS:
            raise ValueError(f"two formatters for {kind}")
        FORMATTERS[kind] = fn
        return fn

    return register


def _short(text: object, n: int = 16) -> str:
    return str(text or "")[:n]


class SessionRender:
    """Lines and tables of a session for people, in the CLI's language. ``me`` is the user
    running the client (its own actions read "you")."""

    def __init__(self, out: Out, me: str | None = None) -> None:
        self.out = out
        self.me = me

    def t(self, key: str, **fields: Any) -> str:
        return self.out.t(key, **fields)

    def word(self, prefix: str, value: object) -> str:
        key = f"{prefix}.{value}"
        return self.t(key) if key in self.out.catalog else str(value)

    @property
    def sep(self) -> str:
        return ", " if self.out.en else "，"

    def phase(self, value: object) -> str:
        return self.word("phase", value)

    def crit(self, view: SessionView, cid: str) -> str:
        c = view.criterion(cid)
        return f"{c['name']}({cid})" if c and c.get("name") else cid

    def who(self, view: SessionView, actor: object) -> str:
        """A prefix naming the actor, empty for the user's own actions."""
        if not actor or actor == self.me:
            return ""
        return view.name(str(actor)) + " "

    def event_line(self, event: dict[str, Any], view: SessionView) -> str | None:
        """One line announcing an event (with its local time), or None."""
        text = self._text(str(event.get("type", "")), event.get("payload") or {}, event, view)
        if text is None:
            return None
        at = event.get("at")
        stamp = self.out.clock(at) if isinstance(at, str) and at else "--:--:--"
        mark = "⚠ " if self.is_alert(event, view) else ""
        return f"[{stamp}] {mark}{text}"

    def is_alert(self, event: dict[str, Any], view: SessionView) -> bool:
        """What a supervisor must act on or know at once."""
        kind, p = str(event.get("type", "")), event.get("payload") or {}
        if kind == "command.refused":
            return p.get("code") in ATTEMPTS
        if kind == "session.deviations":
            return bool(p.get("deviations"))
        if kind == "session.report_signed":
            return bool(p.get("dissent"))
        return kind in ALERTS

    def _text(
        self, kind: str, p: dict[str, Any], e: dict[str, Any], view: SessionView
    ) -> str | None:
        formatter = FORMATTERS.get(kind)
        if formatter is None:
            return self.t("ev.other", type=e.get("type"))
        return formatter(self, p, e, view)

    def detail(self, p: dict[str, Any]) -> str:
        """A recorded sentence in the reader's language (``detail``, ``detail_en``)."""
        found = p.get("detail_en") if self.out.en else p.get("detail")
        return str(found or p.get("detail") or p.get("reason") or "")

    def standings(self, items: Sequence[Any]) -> str:
        return self.sep.join(
            self.t(
                "standing_item",
                bid=s.get("bid_id"),
                company=s.get("company"),
                price=_num(s.get("price")),
                detail=self.detail(s),
            )
            for s in items
            if isinstance(s, dict)
        )

    def bid(self, view: SessionView, bid: object) -> str:
        """A candidate of the award as ``B01 company``, the bid id alone when unknown."""
        found = view.award.candidate(bid) if view.award else None
        if found is None:
            return str(bid or "-")
        return self.t("award_candidate", bid=bid, company=found.get("company"))

    def bids(self, view: SessionView, bids: Sequence[Any]) -> str:
        # 、 between bids in Chinese: the sentence around them already uses ，.
        sep = ", " if self.out.en else "、"
        return sep.join(self.bid(view, b) for b in bids) or self.t("word.none")

    def deviation(self, view: SessionView, d: dict[str, Any]) -> str:
        return self.t(
            "ev.deviation_item",
            expert=view.name(d.get("expert")),
            bid=d.get("bid"),
            criterion=d.get("criterion"),
            score=d.get("score"),
            mean=d.get("others_mean"),
        )

    # -- summaries and tables --------------------------------------------------------------
    def summary(self, view: SessionView) -> list[str]:
        t, sep = self.t, self.sep
        if view.phase is None:
            return [t("sum.nothing")]
        lines = [
            t(
                "sum.session",
                session=session_id(view.stream),
                tender=view.tender or "-",
                section=view.section or "-",
            ),
            t("sum.phase", phase=self.phase(view.phase)),
        ]
        if view.pause is not None:
            lines.append(t("sum.paused", reason=view.pause.get("reason")))
        if view.faults:
            lines.append(t("sum.faults", venues=sep.join(map(view.venue_name, view.faults))))
        if view.chair:
            lines.append(t("sum.chair", chair=view.name(view.chair)))
        if view.progress:
            items = sep.join(
                f"{self.word('step', step)} {done}/{of}"
                for step, (done, of) in view.progress.items()
            )
            lines.append(t("sum.progress", items=items))
        pending = [
            f"{cid} ({c.get('company')})"
            for cid, c in view.clarifications.items()
            if c.get("status") in ("asked", "approved")
        ]
        if pending:
            lines.append(t("sum.pending_clar", items=sep.join(pending)))
        if view.goback is not None:
            lines.append(
                t(
                    "sum.pending_goback",
                    after=self.phase(view.goback.get("to_phase")),
                    reason=view.goback.get("reason"),
                )
            )
        unexplained = view.unexplained() if view.phase == "deviation_check" else []
        if unexplained:
            items = sep.join(self.deviation(view, d) for d in unexplained)
            lines.append(t("sum.unexplained", items=items))
        if view.rejected:
            lines.append(t("sum.rejected", items=self.standings(view.rejected)))
        if view.flagged:
            lines.append(t("sum.flagged", items=self.standings(view.flagged)))
        if view.few_valid is not None:
            fv = view.few_valid
            lines.append(
                t(
                    "sum.few_valid",
                    minimum=fv.get("minimum"),
                    decision=self.word("few_valid", fv.get("decision")),
                    detail=self.detail(fv),
                )
            )
        if view.all_rejected:
            lines.append(t("sum.all_rejected"))
        lines.extend(self.award_summary(view))
        return lines

    def award_summary(self, view: SessionView) -> list[str]:
        """The award's progress as published: method, phase, finalists, the lot's pick, the
        winner, the 公示 deadline (Beijing time) and the objections."""
        a, t, sep = view.award, self.t, self.sep
        if a is None:
            return []
        lines = [
            t(
                "sum.award",
                method=self.word("award_method", a.kind),
                phase=self.word("award_phase", a.phase),
            )
        ]
        if a.finalists:
            lines.append(t("sum.award_finalists", items=self.bids(view, a.finalists)))
        if a.lot is not None:
            lines.append(t("sum.award_pick", pick=self.bid(view, a.lot.get("pick"))))
        winner = a.winner
        if winner is not None:
            lines.append(t("sum.award_winner", winner=self.bid(view, winner.get("bid_id"))))
        if a.publicity is not None:
            lines.append(t("sum.award_until", until=_when(self, a.publicity.get("until"))))
        if a.objections:
            items = sep.join(
                t(
                    "award_objection_item",
                    id=oid,
                    company=o.get("company"),
                    state=t("award_answered") if o.get("answer") else t("award_unanswered"),
                )
                for oid, o in a.objections.items()
            )
            lines.append(t("sum.award_objections", items=items))
        return lines

    def recommended_list(self, recommended: Sequence[dict[str, Any]]) -> str:
        return self.sep.join(
            self.t(
                "recommended_item",
                rank=r.get("rank"),
                company=r.get("company"),
                bid=r.get("bid_id"),
            )
            for r in recommended
        )

    def ranking_table(self, report: dict[str, Any]) -> str:
        companies = {b["bid_id"]: b.get("company", "") for b in report.get("bids", [])}
        bids = list((report.get("ranking") or {}).get("bids", []))
        bids.sort(key=lambda b: (b.get("rank") is None, b.get("rank") or 0, b.get("bid_id")))
        rows = []
        for b in bids:
            rank = str(b["rank"]) if b.get("rank") is not None else self.t("failed_review")
            rows.append(
                [
                    rank,
                    str(b.get("bid_id", "")),
                    str(companies.get(b.get("bid_id"), "")),
                    _num(b.get("price")),
                    _num(b.get("expert_part")),
                    _num(b.get("price_score")),
                    _num(b.get("total")),
                ]
            )
        keys = ("h.rank", "h.bid", "h.company", "h.price", "h.expert_part", "h.price_score")
        headers = [self.t(k) for k in (*keys, "h.total")]
        return table(headers, rows)

    def recommended(self, report: dict[str, Any]) -> str:
        return self.t("recommended", list=self.recommended_list(report.get("recommended", [])))

    def roster_table(self, view: SessionView, venue: str) -> str:
        rows = []
        for m in view.rosters.get(venue, []):
            c = view.checked_in.get(m["expert"])
            at = c.get("at") if c else None
            done = f"✓ {c['seat']} {self.out.clock(at) if at else ''}".rstrip() if c else "-"
            rows.append([m.get("name", ""), m["expert"], str(m.get("specialty", "")), done])
        headers = [self.t("h.expert"), "ID", self.t("h.specialty"), self.t("h.checked_in")]
        return table(headers, rows)


def _num(value: object) -> str:
    if value is None:
        return "-"
    try:
        return format(Decimal(str(value)), "f")
    except InvalidOperation:
        return str(value)


def _when(r: SessionRender, value: object) -> str:
    return r.out.when(value) if isinstance(value, str) and value else "-"


# -- one formatter per event type ------------------------------------------------------------


@formats("command.refused")
def _refused(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    actor = e.get("actor")
    who = r.t("word.you") if not actor or actor == r.me else view.name(str(actor))
    return r.t("ev.refused", who=who, command=p.get("command"), code=p.get("code"))


@formats("session.created")
def _created(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.created",
        tender=p.get("tender"),
        section=p.get("section"),
        bids=p.get("bids"),
        record=r.sep.join(
            f"#{rec.get('seq')} {_short(rec.get('digest'), 12)}…"
            for rec in p.get("opening_record") or []
            if isinstance(rec, dict)
        ),
        experts=p.get("experts"),
        venues=len(p.get("venues") or {}),
    )


@formats("session.bids")
def _bids(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    line = r.t(
        "ev.bids",
        bids=r.sep.join(
            f"{b.get('bid_id')} {b.get('company')} {_num(b.get('price'))}"
            for b in p.get("bids") or []
            if isinstance(b, dict)
        ),
    )
    # Rejected bids are listed apart, with the sentence read out at the opening: they are
    # not the committee's to score, but it must see why they are missing.
    if p.get("rejected"):
        line += r.t("ev.bids_rejected", items=r.standings(p["rejected"]))
    if p.get("flagged"):
        line += r.t("ev.bids_flagged", items=r.standings(p["flagged"]))
    return line


@formats("session.few_valid")
def _few_valid(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    # The recorded sentence says the rule and the decision; the counts follow it.
    return r.t(
        "ev.few_valid",
        valid=p.get("valid"),
        opening=p.get("rejected_at_opening", 0),
        detail=r.detail(p),
    )


@formats("session.seed_committed")
def _seed_committed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.seed_committed",
        commitment=_short(p.get("commitment")),
        pool=_short(p.get("pool_digest")),
    )


@formats("session.drawn")
def _drawn(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.drawn", seed=_short(p.get("seed")))


@formats("session.committee")
def _committee(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    members = r.sep.join(
        f"{view.name(m['expert'])}@{view.venue_name(m['venue'])}" for m in p.get("members", [])
    )
    return r.t("ev.committee", members=members)


@formats("session.venue_roster")
def _venue_roster(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    members = r.sep.join(view.name(m["expert"]) for m in p.get("members", []))
    return r.t("ev.roster", venue=view.venue_name(str(p["venue"])), members=members)


@formats("session.draw_announced")
def _draw_announced(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    counts = r.sep.join(
        f"{view.venue_name(v)} {n}" for v, n in (p.get("experts_per_venue") or {}).items()
    )
    return r.t("ev.draw_announced", counts=counts)


@formats("session.draw_failed")
def _draw_failed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.draw_failed", reason=p.get("reason") or p.get("code"))


@formats("session.redrawn")
def _redrawn(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.redrawn",
        withdrawn=view.name(p.get("withdrawn")),
        replacement=view.name(p.get("replacement")),
        reason=p.get("reason"),
    )


@formats("session.replacement_drawn")
def _replacement_drawn(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.replacement_drawn",
        venue=view.venue_name(str(p.get("venue"))),
        specialty=p.get("specialty"),
    )


@formats("session.checked_in")
def _checked_in(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.checked_in",
        expert=view.name(p.get("expert")),
        venue=view.venue_name(str(p.get("venue"))),
        seat=p.get("seat"),
    )


@formats("session.progress")
def _progress(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.progress",
        step=r.word("step", p.get("step")),
        done=p.get("done"),
        of=p.get("of"),
    )


@formats("session.phase")
def _phase(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    line = r.t("ev.phase", before=r.phase(p.get("from")), after=r.phase(p.get("phase")))
    return line + (r.t("ev.goback_lapsed") if p.get("goback_lapsed") else "")


@formats("session.chair_vote")
def _chair_vote(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    candidate, actor = view.name(p.get("candidate")), e.get("actor")
    if actor and actor != r.me:
        who = view.name(str(actor))
        return r.t("ev.vote_of", who=who, round=p.get("round"), candidate=candidate)
    return r.t("ev.chair_vote", round=p.get("round"), candidate=candidate)


@formats("session.chair_round")
def _chair_round(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    counts = r.sep.join(f"{view.name(c)} {n}" for c, n in (p.get("counts") or {}).items())
    if p.get("elected"):
        return r.t(
            "ev.chair_elected",
            round=p.get("round"),
            counts=counts,
            chair=view.name(p["elected"]),
        )
    return r.t("ev.chair_again", round=p.get("round"), counts=counts)


@formats("session.verdict")
def _verdict(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    reason = p.get("reason")
    return r.t(
        "ev.verdict",
        who=r.who(view, e.get("actor")),
        bid=p.get("bid"),
        criterion=r.crit(view, str(p.get("criterion"))),
        result=r.t("word.pass") if p.get("pass") else r.t("word.fail"),
        reason=f" — {reason}" if reason else "",
    )


@formats("session.preliminary_result")
def _preliminary_result(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    passed = list(p.get("passed", []))
    failed = [b for b in (p.get("results") or {}) if b not in passed]
    none = r.t("word.none")
    return r.t(
        "ev.preliminary_result",
        passed=r.sep.join(passed) or none,
        failed=r.sep.join(failed) or none,
    )


@formats("session.score")
def _score(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.score",
        who=r.who(view, e.get("actor")),
        bid=p.get("bid"),
        criterion=r.crit(view, str(p.get("criterion"))),
        score=p.get("score"),
    )


@formats("session.scores_submitted")
def _scores_submitted(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    return r.t("ev.scores_submitted", who=r.who(view, e.get("actor")))


@formats("session.scores_revealed")
def _scores_revealed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.scores_revealed", n=len(p.get("sheets", [])))


@formats("session.score_revised")
def _score_revised(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.score_revised",
        expert=view.name(p.get("expert")),
        bid=p.get("bid"),
        criterion=r.crit(view, str(p.get("criterion"))),
        before=p.get("from"),
        after=p.get("to"),
        reason=p.get("reason"),
    )


@formats("session.deviations")
def _deviations(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    found = p.get("deviations", [])
    if not found:
        return r.t("ev.no_deviations")
    items = r.sep.join(r.deviation(view, d) for d in found)
    return r.t("ev.deviations", n=len(found), items=items)


@formats("session.deviation_reason")
def _deviation_reason(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.deviation_reason",
        expert=view.name(p.get("expert")),
        bid=p.get("bid"),
        criterion=r.crit(view, str(p.get("criterion"))),
        reason=p.get("reason"),
    )


@formats("session.clarification_asked")
def _clarification_asked(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.clar_asked",
        id=p.get("id"),
        by=view.name(p.get("asked_by")),
        company=p.get("company"),
        seconds=p.get("deadline_seconds"),
        question=p.get("question"),
    )


@formats("session.clarification_approved")
def _clarification_approved(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t("ev.clar_approved", id=p.get("id"), deadline=_when(r, p.get("deadline")))


@formats("session.clarification_rejected")
def _clarification_rejected(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t("ev.clar_rejected", id=p.get("id"), reason=p.get("reason"))


@formats("session.clarification_request")
def _clarification_request(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t("ev.clar_request", id=p.get("id"))


@formats("session.clarification_answered")
def _clarification_answered(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t("ev.clar_answered", id=p.get("id"), company=p.get("company"), answer=p.get("answer"))


@formats("session.clarification_expired")
def _clarification_expired(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t(
        "ev.clar_expired",
        id=p.get("id"),
        company=p.get("company"),
        deadline=_when(r, p.get("deadline")),
    )


@formats("session.goback_requested")
def _goback_requested(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.goback_requested",
        by=view.name(p.get("by")),
        before=r.phase(p.get("from_phase")),
        after=r.phase(p.get("to_phase")),
        reason=p.get("reason"),
    )


@formats("session.goback_approved")
def _goback_approved(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.goback_approved", after=r.phase(p.get("to_phase")))


@formats("session.goback_rejected")
def _goback_rejected(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.goback_rejected", reason=p.get("rejection"))


@formats("session.ranking")
def _ranking(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.ranking", digest=p.get("report_digest"))


@formats("session.report_signed")
def _report_signed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    dissent = p.get("dissent")
    return r.t(
        "ev.report_signed",
        expert=view.name(p.get("expert")),
        dissent=r.t("ev.dissent", text=dissent) if dissent else "",
    )


@formats("session.closed")
def _closed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    if p.get("all_rejected"):
        return r.t("ev.closed_all_rejected")
    return r.t("ev.closed", list=r.recommended_list(p.get("recommended") or []))


@formats("session.report_final")
def _report_final(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.report_final",
        digest=p.get("report_digest"),
        n=len(p.get("signatures") or {}),
    )


@formats("session.paused")
def _paused(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.paused", cause=r.word("cause", p.get("cause")), reason=p.get("reason"))


@formats("session.resumed")
def _resumed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.resumed", why=r.word("why", p.get("reason")))


@formats("session.pause_lifted")
def _pause_lifted(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    venues = r.sep.join(view.venue_name(v) for v in p.get("waiting_for_venues", []))
    return r.t("ev.pause_lifted", venues=venues)


@formats("session.warning")
def _warning(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    expert = p.get("expert")
    to = r.t("ev.warning_to", expert=view.name(expert)) if expert else ""
    return r.t("ev.warning", to=to, text=p.get("text"))


@formats("session.note")
def _note(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.note", text=p.get("text"))


@formats("session.venue_lost")
def _venue_lost(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.venue_lost",
        venue=view.venue_name(str(p.get("venue"))),
        stage=r.word("stage", p.get("stage")),
        deadline=_when(r, p.get("deadline")),
    )


@formats("session.venue_restored")
def _venue_restored(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.venue_restored", venue=view.venue_name(str(p.get("venue"))))


@formats("session.start_wait_over")
def _start_wait_over(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    venues = r.sep.join(view.venue_name(v) for v in p.get("venues", []))
    return r.t("ev.start_wait_over", venues=venues)


@formats("session.sealed")
def _sealed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.sealed", venue=view.venue_name(str(p.get("venue"))))


@formats("session.new_committee_required")
def _new_committee_required(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t("ev.new_committee")


@formats("session.tenderer_decided")
def _tenderer_decided(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.tenderer_decided", decision=r.word("decision", p.get("decision")))


@formats("session.rescheduled")
def _rescheduled(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.rescheduled")


@formats("session.expert_rated")
def _expert_rated(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    comment = p.get("comment")
    return r.t(
        "ev.rated",
        expert=view.name(p.get("expert")),
        score=p.get("score"),
        comment=f" — {comment}" if comment else "",
    )


# -- the award after the session (定标, 评定分离): one formatter per award.* type ------------------


def _counts(r: SessionRender, view: SessionView, counts: object) -> str:
    found = counts if isinstance(counts, dict) else {}
    return (", " if r.out.en else "、").join(f"{r.bid(view, b)} {n}" for b, n in found.items())


@formats("award.set_up")
def _award_set_up(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    seconds = p.get("objection_seconds")
    if isinstance(seconds, int) and seconds % 86400 == 0:
        window = r.t("award_window_days", n=seconds // 86400)
    else:
        window = r.t("award_window_seconds", n=seconds)
    method = p.get("method") or {}
    candidates = [c.get("bid_id") for c in p.get("candidates") or [] if isinstance(c, dict)]
    return r.t(
        "ev.award_set_up",
        method=r.word("award_method", method.get("kind")),
        candidates=r.bids(view, candidates),
        members=p.get("members"),
        window=window,
    )


# award (定标) jobs: the 定标委员会 drawn from the tenderer's panel
@formats("award.panel")
def _award_panel(r: SessionRender, p: Payload, _e: Event, _view: SessionView) -> str | None:
    return r.t(
        "ev.award_panel",
        appointed=r.sep.join(str(m) for m in p.get("appointed") or []) or "-",
        size=len(p.get("panel") or []),
        count=p.get("count"),
        commitment=str(p.get("commitment"))[:16],
    )


@formats("award.members_drawn")
def _award_members_drawn(r: SessionRender, p: Payload, _e: Event, _view: SessionView) -> str | None:
    drawn = r.sep.join(str(m) for m in p.get("drawn") or [])
    return r.t("ev.award_members_drawn", seed=str(p.get("seed"))[:16], drawn=drawn)


@formats("award.committee")
def _award_committee(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    names = p.get("names") or {}

    def named(user: object) -> str:
        found = names.get(str(user))
        return f"{found}（{user}）" if found else str(user)

    members = r.sep.join(named(m) for m in p.get("members") or [])
    return r.t("ev.award_committee", members=members, chair=named(p.get("chair")))


@formats("award.phase")
def _award_phase(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.award_phase",
        before=r.word("award_phase", p.get("from")) if p.get("from") else "-",
        after=r.word("award_phase", p.get("phase")),
    )


@formats("award.progress")
def _award_progress(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    step = str(p.get("step"))
    number = step.removeprefix("round_")
    label = r.t("award_step_round", n=number) if number.isdigit() else r.word("award_phase", step)
    return r.t("ev.award_progress", step=label, done=p.get("done"), of=p.get("of"))


@formats("award.signed_in")
def _award_signed_in(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    actor = e.get("actor") or p.get("who")
    who = r.t("word.you") if actor == r.me else str(actor)
    return r.t("ev.award_signed_in", who=who, as_=r.word("award_as", p.get("as")))


@formats("award.seed_committed")
def _award_seed_committed(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.award_seed_committed", commitment=_short(p.get("commitment")))


@formats("award.voting_opened")
def _award_voting_opened(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.award_voting_opened",
        round=p.get("round"),
        candidates=r.bids(view, p.get("candidates") or []),
        seats=p.get("seats"),
    )


@formats("award.vote")
def _award_vote(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    actor = e.get("actor")
    who = r.t("word.you") if not actor or actor == r.me else f"{actor} "
    return r.t(
        "ev.award_vote", who=who, round=p.get("round"), candidate=r.bid(view, p.get("candidate"))
    )


@formats("award.round")
def _award_round(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    tied = p.get("tied") or []
    return r.t(
        "ev.award_round",
        round=p.get("round"),
        counts=_counts(r, view, p.get("counts")),
        chosen=r.bids(view, p.get("chosen") or []),
        tied=r.t("award_tied", items=r.bids(view, tied)) if tied else "",
    )


@formats("award.lot_drawn")
def _award_lot_drawn(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.award_lot_drawn",
        seed=_short(p.get("seed")),
        commitment=_short(p.get("commitment")),
        finalists=r.bids(view, p.get("finalists") or []),
        pick=r.bid(view, p.get("pick")),
    )


@formats("award.opinion")
def _award_opinion(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.award_opinion",
        member=e.get("actor") or p.get("member"),
        candidate=r.bid(view, p.get("candidate")),
        opinion=p.get("opinion"),
    )


@formats("award.decided")
def _award_decided(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.award_decided", candidate=r.bid(view, p.get("candidate")), reasons=p.get("reasons")
    )


@formats("award.report")
def _award_report(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    report = p.get("report") or {}
    winner = report.get("winner") or {}
    return r.t(
        "ev.award_report",
        winner=r.bid(view, winner.get("bid_id")),
        basis=r.word("award_basis", report.get("basis")),
        digest=_short(p.get("award_digest")),
    )


@formats("award.report_signed")
def _award_report_signed(r: SessionRender, p: Payload, e: Event, view: SessionView) -> str | None:
    dissent = p.get("dissent")
    return r.t(
        "ev.award_report_signed",
        member=e.get("actor") or p.get("member"),
        dissent=r.t("ev.dissent", text=dissent) if dissent else "",
    )


@formats("award.report_final")
def _award_report_final(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t(
        "ev.award_report_final",
        digest=_short(p.get("award_digest")),
        n=len(p.get("signatures") or {}),
    )


@formats("award.publicity")
def _award_publicity(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    winner = p.get("winner") or {}
    return r.t(
        "ev.award_publicity",
        winner=r.t("award_candidate", bid=winner.get("bid_id"), company=winner.get("company")),
        method=r.word("award_method", p.get("method")),
        until=_when(r, p.get("until")),
    )


@formats("award.objection")
def _award_objection(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    return r.t("ev.award_objection", company=p.get("company"), id=p.get("id"), text=p.get("text"))


@formats("award.objection_answered")
def _award_objection_answered(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    return r.t(
        "ev.award_objection_answered",
        id=p.get("id"),
        company=p.get("company"),
        answer=p.get("answer"),
    )


@formats("award.publicity_closed")
def _award_publicity_closed(
    r: SessionRender, p: Payload, _e: Event, view: SessionView
) -> str | None:
    unanswered = r.sep.join(str(i) for i in p.get("unanswered") or []) or r.t("word.none")
    return r.t("ev.award_publicity_closed", n=p.get("objections", 0), unanswered=unanswered)


@formats("award.notice")
def _award_notice(r: SessionRender, p: Payload, _e: Event, view: SessionView) -> str | None:
    winner = p.get("winner") or {}
    return r.t(
        "ev.award_notice",
        winner=r.t("award_candidate", bid=winner.get("bid_id"), company=winner.get("company")),
        at=_when(r, p.get("at")),
    )

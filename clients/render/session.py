"""The evaluation session (评标会话) in lines and tables, zh-CN or English.

:class:`SessionRender` turns events and the folded :class:`SessionView` into text. Each event
type has one formatter in :data:`FORMATTERS` (``type -> formatter``); a type with none reads
as "other event".
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
    return r.t(
        "ev.bids",
        bids=r.sep.join(
            f"{b.get('bid_id')} {b.get('company')} {_num(b.get('price'))}"
            for b in p.get("bids") or []
            if isinstance(b, dict)
        ),
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

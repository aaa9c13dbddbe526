"""Who receives each event (可见范围): declared once, here, for every type the domain emits.

A decider says *what* happened (type and payload); this table says *who may see it*. There is
no default: an event type missing here is refused when it is emitted (``UndeclaredEvent``)
and when a node starts (``check_sources`` finds every literal type the domain emits).

A rule is one of:
- ``Fixed(class)``: a class from ``roles.Visibility`` (``public``, ``staff``, ``committee``, …);
- ``To(class, field)``: a parametrised class whose argument is a payload field
  (``org:<payload[field]>``, ``user:…``, ``venue:…``);
- ``Switch(field, cases)``: the payload field's value picks one of the rules (used where one
  type reaches two audiences, e.g. a clarification's answer to the committee and to its bidder).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evalroom.domain.roles import Visibility, parse_visibility


class UndeclaredEvent(Exception):
    """A programming error: an event type (or its payload) does not fit the table."""


@dataclass(frozen=True)
class Fixed:
    cls: Visibility

    def resolve(self, _payload: Mapping[str, Any]) -> str:
        return self.cls.value

    def describe(self) -> str:
        return f"`{self.cls.value}`"


@dataclass(frozen=True)
class To:
    cls: Visibility
    field: str

    def resolve(self, payload: Mapping[str, Any]) -> str:
        value = payload.get(self.field)
        if not isinstance(value, str) or not value:
            raise UndeclaredEvent(f"payload field {self.field!r} must name the {self.cls.value}")
        return f"{self.cls.value}:{value}"

    def describe(self) -> str:
        return f"`{self.cls.value}:<{self.field}>`"


@dataclass(frozen=True)
class Switch:
    field: str
    cases: Mapping[str, Rule]

    def resolve(self, payload: Mapping[str, Any]) -> str:
        key = _case_key(payload.get(self.field))
        rule = self.cases.get(key)
        if rule is None:
            raise UndeclaredEvent(f"no audience for {self.field}={key!r}")
        return rule.resolve(payload)

    def describe(self) -> str:
        parts = [
            f"{rule.describe()} when {self.field} is {key}" for key, rule in self.cases.items()
        ]
        return "; ".join(parts)


Rule = Fixed | To | Switch


def _case_key(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


PUBLIC = Fixed(Visibility.PUBLIC)  # everyone with a role in the stream, bidders included
STAFF = Fixed(Visibility.STAFF)  # everyone but bidders: phase and progress, never scores
COMMITTEE = Fixed(Visibility.COMMITTEE)  # experts and the chair (and supervisors)
SUPERVISOR = Fixed(Visibility.SUPERVISOR)
ACTOR = Fixed(Visibility.ACTOR)  # the event's actor (and supervisors)
AWARD = Fixed(Visibility.AWARD)  # the 定标委员会 and the tenderer (and supervisors)


def _org(field: str) -> To:
    return To(Visibility.ORG, field)


def _user(field: str) -> To:
    return To(Visibility.USER, field)


def _venue(field: str) -> To:
    return To(Visibility.VENUE, field)


# The audience of a copy sent to the committee or to the bidder concerned (``to`` field).
_COMMITTEE_OR_BIDDER = Switch("to", {"committee": COMMITTEE, "bidder": _org("company")})

EVENTS: Mapping[str, Rule] = {
    # -- platform and any stream ---------------------------------------------------------
    "command.refused": ACTOR,
    # -- tender (evalroom.domain.tender) -------------------------------------------------
    "tender.created": PUBLIC,
    "role.granted": STAFF,
    "tender.published": PUBLIC,
    "tender.notice": PUBLIC,
    "supervisor.note": SUPERVISOR,
    # -- bids and the opening (evalroom.domain.opening) ----------------------------------
    "tender.configured": PUBLIC,
    # -- a bidder company's own stream, bid:<tender>.<opaque> (evalroom.domain.bids) ------
    "bidder.joined": _org("org"),
    "bid.submitted": _org("org"),
    "bid.withdrawn": _org("org"),
    # The tender's record commits to each bid stream's (name, size, root) at the opening.
    "bids.committed": PUBLIC,
    "opening.started": PUBLIC,
    "opening.your_bid": _org("org"),
    "opening.signed_in": Switch("as", {"bidder": _org("who"), "staff": STAFF}),
    "bid.status": PUBLIC,
    "opening.window_closed": PUBLIC,
    "opening.fallback": PUBLIC,
    "opening.share_received": PUBLIC,
    "opening.read_out": PUBLIC,
    "section.failed": PUBLIC,
    "opening.confirmed": PUBLIC,
    "opening.objection": PUBLIC,
    "opening.answered": PUBLIC,
    "opening.record_signed": PUBLIC,
    "opening.record": PUBLIC,
    # method rules: the floating point drawn at the opening (seed committed, then revealed)
    "opening.floating_point_committed": PUBLIC,
    "opening.floating_point_drawn": PUBLIC,
    # -- the evaluation session (evalroom.domain.session_*) -------------------------------
    "session.created": PUBLIC,
    "session.bids": COMMITTEE,
    "session.seed_committed": PUBLIC,
    "session.draw_failed": PUBLIC,
    "session.drawn": SUPERVISOR,
    "session.committee": COMMITTEE,
    "session.venue_roster": _venue("venue"),
    "session.draw_announced": PUBLIC,
    "session.redrawn": SUPERVISOR,
    "session.replacement_drawn": PUBLIC,
    "session.checked_in": _venue("venue"),
    "session.phase": STAFF,
    "session.progress": STAFF,
    "session.paused": STAFF,
    "session.pause_lifted": STAFF,
    "session.resumed": STAFF,
    "session.warning": Switch("to", {"committee": COMMITTEE, "expert": _user("expert")}),
    "session.note": SUPERVISOR,
    "session.venue_lost": STAFF,
    "session.venue_restored": STAFF,
    "session.tenderer_decided": STAFF,
    "session.rescheduled": PUBLIC,
    "session.sealed": PUBLIC,
    "session.new_committee_required": STAFF,
    "session.start_wait_over": STAFF,
    "session.chair_vote": ACTOR,
    "session.chair_round": COMMITTEE,
    "session.verdict": ACTOR,  # the expert who gave it
    "session.preliminary_result": COMMITTEE,
    # The tender's rule for fewer than 3 valid bids, as the committee applied it.
    "session.few_valid": COMMITTEE,
    "session.score": ACTOR,
    "session.scores_submitted": ACTOR,
    "session.scores_revealed": COMMITTEE,
    # Before the reveal a revision is the expert's own business; after it, the committee's.
    "session.score_revised": Switch("revealed", {"true": COMMITTEE, "false": _user("expert")}),
    "session.deviations": COMMITTEE,
    "session.deviation_reason": COMMITTEE,
    "session.goback_requested": COMMITTEE,
    "session.goback_approved": COMMITTEE,
    "session.goback_rejected": COMMITTEE,
    "session.clarification_asked": COMMITTEE,
    "session.clarification_approved": COMMITTEE,
    "session.clarification_request": _org("company"),
    "session.clarification_rejected": COMMITTEE,
    "session.clarification_answered": _COMMITTEE_OR_BIDDER,
    "session.clarification_expired": _COMMITTEE_OR_BIDDER,
    "session.ranking": COMMITTEE,
    "session.report_signed": COMMITTEE,
    "session.closed": PUBLIC,
    "session.report_final": STAFF,
    "session.expert_rated": ACTOR,
    # -- method rules in the session (docs/methods.md) ------------------------------------
    "session.arithmetic_errors": COMMITTEE,  # 算术错误 the chair records; penalties follow
    "session.price_scores_fed": ACTOR,  # the agency's figures, until the supervisor approves
    "session.price_scores_approved": COMMITTEE,
    "session.price_scores_rejected": STAFF,  # a reason, no figure
    "session.correction_requested": COMMITTEE,  # 复核: the chair asks, the supervisor decides
    "session.correction_approved": COMMITTEE,
    "session.correction_rejected": COMMITTEE,
    "session.rank_vote": ACTOR,  # a secret ballot until the round is counted
    "session.rank_round": COMMITTEE,
    # -- the award, 评定分离 (evalroom.domain.award), in the closed session's stream ------
    "award.set_up": PUBLIC,
    "award.committee": AWARD,
    "award.panel": AWARD,  # the tenderer's panel the members are drawn from, the commitment
    "award.members_drawn": AWARD,  # the seed revealed and who it draws
    "award.phase": STAFF,
    "award.progress": STAFF,  # counts only: the agency and the experts watch, never vote
    "award.signed_in": AWARD,
    "award.seed_committed": PUBLIC,
    "award.voting_opened": STAFF,
    "award.vote": ACTOR,  # a secret ballot until the round closes
    "award.round": AWARD,
    "award.lot_drawn": PUBLIC,  # a public draw: the seed, the finalists, the pick
    "award.opinion": AWARD,
    "award.decided": AWARD,
    "award.report": AWARD,
    "award.report_signed": AWARD,
    "award.report_final": STAFF,
    "award.publicity": PUBLIC,  # 中标候选人公示
    "award.objection": PUBLIC,
    "award.objection_answered": PUBLIC,
    "award.publicity_closed": PUBLIC,
    "award.notice": PUBLIC,  # 中标通知
    # -- red flags: live signals, in the tender's signals:<id> stream (domain.redflag_record)
    # Supervisors only, in a stream no one else can read, name or count (services.bids).
    "signal.raised": SUPERVISOR,
    "signals.checked": SUPERVISOR,
}


def visibility_of(type_: str, payload: Mapping[str, Any]) -> str:
    """The visibility string stored with an event of ``type_`` carrying ``payload``."""
    rule = EVENTS.get(type_)
    if rule is None:
        raise UndeclaredEvent(f"event type {type_!r} has no declared audience")
    value = rule.resolve(payload)
    parse_visibility(value)  # well-formed, or a ValueError
    return value


def describe(type_: str) -> str:
    """The rule in words, as docs/protocol.md's event table states it."""
    return EVENTS[type_].describe()


# -- the start-up check: every type the domain emits is declared ---------------------------

_EMITTERS = frozenset({"NewEvent", "emit"})


def emitted_types(source: str) -> set[str]:
    """Literal event types in ``NewEvent("x", …)`` and ``….emit("x", …)`` calls of a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        first = node.args[0]
        if name in _EMITTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
    return found


def check_sources(sources: Iterable[str], extra: Iterable[str] = ()) -> None:
    """Raise ``UndeclaredEvent`` naming every emitted type missing from ``EVENTS``."""
    emitted = set(extra)
    for source in sources:
        emitted |= emitted_types(source)
    missing = sorted(emitted - set(EVENTS))
    if missing:
        raise UndeclaredEvent(f"event types with no declared audience: {', '.join(missing)}")

"""The evaluation session (评标会话), one per section of a tender: stream ``session:<id>``.

Pure: ``DECIDERS[type](state, command) -> Decision``, as in :mod:`evalroom.domain.tender`.
Phases::

    draw -> check_in -> chair_election -> preliminary_review -> detailed_review
         -> deviation_check -> signing -> closed
    draw | check_in -> awaiting_tenderer_decision -> back | rescheduled  (venue lost before start)
    chair_election .. signing -> sealed                            (venue lost for too long)

The rules live in helper modules: :mod:`~evalroom.domain.session_committee` (creation, draw,
conflicts, check-in), :mod:`~evalroom.domain.session_review` (election, review, scoring,
deviations, going back), :mod:`~evalroom.domain.session_clarify`,
:mod:`~evalroom.domain.session_report` (ranking, report, signing, ratings) and
:mod:`~evalroom.domain.session_control` (pause, venue faults, clock).

Commands: body fields (``?`` optional; decimals are strings), and what they emit. Visibility
classes: ``public`` (bidders too), ``staff`` (everyone but bidders: phase and progress
counts, never names of experts or figures), ``committee``, ``supervisor``, ``actor``,
``user:<id>``, ``org:<company>``, ``venue:<id>``; supervisors see every class. Signed
commands (the service marks their specs ``signed``) are marked *signed*.

Forming the committee
- ``session.create`` (agency): ``tender``, ``section``, ``venues`` [{``id``, ``name``,
  ``region``, ``seats`` int, ``main`` bool (exactly one)}], ``method`` (ScoringMethod dict),
  ``floating_point``? (drawn at the opening), ``deviation_threshold``? ("0.30"),
  ``start_wait``? (7200 s), ``resume_wait``? (14400 s), ``draw`` {``slots``
  [{``specialty``, ``venue``, ``count``}], ``tenderer``, ``tenderer_region``,
  ``avoid_tenderer_region``?, ``min_credit``?, ``excluded``? [ids], ``match_venue_region``?}.
  No ``bids`` (``bids_not_accepted``): they come from the tender's signed opening record(s)
  in ``facts["opening_records"]`` [{seq, payload}], with the tender's other sessions in
  ``facts["sessions"]`` [{stream, section, phase}] (:mod:`evalroom.domain.handover`:
  ``not_opened``, ``section_failed``, ``unknown_section``, ``session_exists``,
  ``record_inconsistent``). The committee is odd and at least 5. -> ``session.created``
  public {tender, section, venues, method, bids (count), experts, opening_record [{stage,
  seq, digest}], earlier_sessions}, ``session.bids`` committee {bids [{bid_id, company,
  price}]}. Creates the stream with parent ``tender:<tender>``.
- ``session.commit_seed`` (agency, supervisor, system): ``commitment`` (hex SHA-256 of the
  seed), ``pool_digest`` (:func:`~evalroom.domain.draw.pool_digest` of the snapshot) ->
  ``session.seed_committed`` public {commitment, pool_digest, request_digest}.
- ``session.draw`` (agency, supervisor, system): ``seed`` (hex, 16+ bytes); the pool snapshot
  in ``facts["pool"]`` (or the body's ``pool``). Grants ``expert`` with the seat's venue.
  -> ``session.drawn`` supervisor {seed, record}, ``session.committee`` committee {members
  [{expert, name, specialty, venue}]}, ``session.venue_roster`` venue:<id> per venue,
  ``session.draw_announced`` public {experts_per_venue}, phase ``check_in``. A pool that
  cannot fill the slots (found before any pick, whatever the seed) is not a refusal:
  ``session.draw_failed`` public, the commitment is spent and a new one may be published.
- ``session.declare_conflict`` (expert for themself; supervisor naming ``expert``, e.g. a
  no-show): ``reason``, ``expert``?; check-in phase only; pool in ``facts["pool"]``. Redraws
  the seat (补抽), grants the replacement. -> ``session.redrawn`` supervisor,
  ``session.committee`` committee, ``session.venue_roster``, ``session.replacement_drawn``
  public {venue, specialty}.
- ``session.check_in`` (operator of the expert's venue): ``expert``, ``seat``,
  ``expert_signature``; needs ``facts["expert_signature_ok"] is True``. ->
  ``session.checked_in`` venue:<id>, ``session.progress`` staff; the last one (with every
  venue up and no pause) starts the evaluation: phase ``chair_election``.

Reviewing (expert and chair; refused with ``paused`` while paused)
- ``session.vote_chair``: ``candidate``. -> ``session.chair_vote`` actor (secret ballot),
  progress; when all voted ``session.chair_round`` committee {round, counts, elected}: more
  than half of the committee elects (grants ``chair``, phase ``preliminary_review``),
  otherwise (a tie included) a new round.
- ``session.preliminary`` *signed*: ``bid``, ``criterion`` (pass/fail), ``pass`` bool,
  ``reason``? (required for a fail); changeable until closed. -> ``session.verdict``
  user:<expert>, progress when an expert has decided every (bid, criterion).
- ``session.close_phase`` (chair): ``phase`` (the one being closed: ``preliminary_review``
  or ``deviation_check``); refused while a clarification is pending. Preliminary ->
  ``session.preliminary_result`` committee, phase ``detailed_review`` (or straight to the
  ranking when nothing is to be scored). Deviation check (every deviation explained) ->
  aggregation: ``session.ranking`` committee {report, report_digest} (the report holds the
  ranking), phase ``signing``.
- ``session.score`` *signed*: ``bid``, ``criterion`` (expert-scored), ``score`` (0..max, 2
  dp), ``reason``?. -> ``session.score`` user:<expert>.
- ``session.submit_scores`` *signed*: {} -> ``session.scores_submitted`` user:<expert>
  {scores}, progress; the last one: ``session.scores_revealed`` committee {sheets},
  ``session.deviations`` committee, phase ``deviation_check``.
- ``session.revise_score`` *signed*: ``bid``, ``criterion``, ``score``, ``reason``; only
  after submitting (detailed review or deviation check). -> ``session.score_revised``
  (user:<expert> before the reveal, committee after; deviations re-checked after).
- ``session.deviation_reason`` *signed*: ``bid``, ``criterion``, ``reason`` (the flagged
  expert) -> ``session.deviation_reason`` committee, progress.
- ``session.clarify_ask``: ``company``, ``question``, ``deadline_seconds`` (review phases)
  -> ``session.clarification_asked`` committee; reply {id}.
- ``session.goback_request`` (chair): ``to_phase`` (an earlier review phase), ``reason`` ->
  ``session.goback_requested`` committee. Lapses if the phase changes first.
- ``session.sign_report`` *signed*: ``report_digest`` (of ``state["report"]``),
  ``dissent``? -> ``session.report_signed`` committee, progress; the last one: phase
  ``closed``, ``session.closed`` public {recommended [{rank, bid_id, company}]},
  ``session.report_final`` staff {report, report_digest, signatures}.

Supervisor
- ``session.clarify_approve``: ``id`` -> ``session.clarification_approved`` committee
  {deadline}, ``session.clarification_request`` org:<company> {id, question, deadline}.
- ``session.clarify_reject``: ``id``, ``reason`` -> ``session.clarification_rejected``.
- ``session.goback_approve``: {} -> ``session.goback_approved`` committee, phase back; the
  reopened phase's sheets unlock and everything after it is cleared.
- ``session.goback_reject``: ``reason`` -> ``session.goback_rejected`` committee.
- ``session.pause``: ``reason`` -> ``session.paused`` staff. ``session.resume``: {} ->
  ``session.resumed`` staff (or ``session.pause_lifted`` while a venue is still lost).
- ``session.warn``: ``text``, ``expert``? -> ``session.warning`` user:<expert> or committee.
- ``session.annotate`` *signed*: ``text`` -> ``session.note`` supervisor.

Others
- ``session.clarify_answer`` *signed* (bidder whose org is the company): ``id``, ``answer``;
  before the deadline (else ``deadline_passed``). -> ``session.clarification_answered``
  committee and org:<company>.
- ``session.tenderer_decision`` (tenderer): ``decision`` (continue | reschedule),
  ``reason``?. -> ``session.tenderer_decided`` staff; reschedule: ``session.rescheduled``
  public.
- ``session.rate_expert`` (agency, supervisor; after closing, once per rater and expert):
  ``expert``, ``score`` (1..5), ``comment``? -> ``session.expert_rated`` actor.
- ``session.venue_lost`` / ``session.venue_restored`` (system): ``venue`` ->
  ``session.venue_lost`` / ``session.venue_restored`` staff, ``session.paused`` /
  ``session.resumed``; repeats are no-ops.
- ``session.clock`` (system): {} -> whatever passed: ``session.clarification_expired``
  (committee, org), ``session.start_wait_over`` + phase ``awaiting_tenderer_decision``, or
  ``session.sealed`` public + ``session.new_committee_required`` staff + phase ``sealed``.

Method rules in the session (:mod:`~evalroom.domain.session_rules`; docs/methods.md)
- ``session.score`` / ``session.revise_score`` hold a figure to the criterion's scale
  (``score_out_of_range``, ``score_not_allowed``, a sentence naming the item and its values);
  chair-only items take the chair's figure only (``chair_only``); deduction items are scored
  like any item. Closing the preliminary review applies the method's vote rule
  (``verdicts_differ`` under agreement). The chair is elected by plurality, a tie going to a
  run-off among the tied (``session.chair_round`` {…, runoff}).
- ``session.arithmetic_errors`` (chair, review phases): ``bid``, ``errors`` int, ``reason``?
  -> ``session.arithmetic_errors`` committee.
- ``session.price_scores`` (agency, before the ranking): ``scores`` {bid: "54.25"}, ``basis``
  -> ``session.price_scores_fed`` actor; ``session.price_scores_approve`` (supervisor) ->
  ``session.price_scores_approved`` committee; ``session.price_scores_reject``: ``reason`` ->
  ``session.price_scores_rejected`` staff.
- ``session.correction_request`` (chair, signing): ``kind`` (score | base_price),
  ``expert``/``bid``/``criterion`` (score), ``corrected``, ``reason`` ->
  ``session.correction_requested`` committee; ``session.correction_approve`` (supervisor) ->
  ``session.correction_approved`` committee, then a new ``session.ranking``;
  ``session.correction_reject``: ``reason`` -> ``session.correction_rejected`` committee.
- ``session.rank_vote`` *signed* (expert, signing, when the method recommends by votes or
  ranks): ``bids`` -> ``session.rank_vote`` actor; the last ballot of a round:
  ``session.rank_round`` committee, then a run-off or the report with its candidates.

State (plain JSON): ``phase``; ``tender``, ``section``, ``agency``; ``venues`` {id: {name,
region, seats, main}}; ``method`` (ScoringMethod.to_dict); ``bids`` [{bid_id, company, price,
arithmetic_errors, adjustment}] (from the opening record; the last two start at 0);
``opening_record`` [{stage, seq, digest}]; ``earlier_sessions`` [stream];
``floating_point``; ``deviation_threshold``; ``waits`` {start, resume}; ``draw_request`` (DrawRequest.to_dict); ``seed_commitment``,
``pool_digest``; ``draw`` {seed, record} | None; ``committee`` {expert: {name, specialty,
venue}} in seat order; ``withdrawn`` {expert: {reason, replaced_by, at}}; ``checked_in``
{expert: {venue, seat, at, by}}; ``election`` {round, votes {voter: candidate}}; ``chair``;
``verdicts`` {expert: {bid: {criterion: {pass, reason}}}}; ``preliminary`` {passed, results}
| None; ``scores`` {expert: {bid: {criterion: "26.5"}}}; ``submitted`` [expert];
``revealed``; ``revisions`` [...]; ``deviations`` [{expert, bid, criterion, score,
others_mean, relative}]; ``deviation_reasons`` {expert: {bid: {criterion: reason}}};
``clarifications`` {id: {company, question, deadline_seconds, asked_by, asked_at, status,
deadline, answer, answered_at, rejection}}; ``goback`` (pending) | None; ``gobacks``
(approved); ``pause`` {reason, by, at} | None; ``faults`` {venue: {stage, lost_at,
deadline}}; ``resume_phase``; ``report``, ``report_digest``; ``signatures`` {expert:
{dissent, at}}; ``ratings`` {rater: {expert: {score, comment, role, at}}}; method rules:
``election`` also {candidates (run-off), rounds}, ``price_scores`` {scores, basis, fed_by,
approved_by?}, ``correction`` (pending) | None, ``corrections`` [Correction.to_dict +
requested_by, approved_at], ``rank_vote`` {round, candidates, seats, ballots, rounds, chosen}. The state holds
names and scores: never hand it to a client as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalroom.domain import (
    session_clarify,
    session_committee,
    session_control,
    session_report,
    session_review,
    session_rules,
)
from evalroom.domain.commands import Actor
from evalroom.domain.roles import Role
from evalroom.domain.session_control import next_deadline
from evalroom.domain.session_report import report_digest
from evalroom.domain.session_state import SYSTEM, Decider, Phase

__all__ = [
    "COMMAND_ROLES",
    "DECIDERS",
    "SIGNED",
    "SYSTEM",
    "Phase",
    "may_read_scores",
    "next_deadline",
    "report_digest",
]

DECIDERS: dict[str, Decider] = {
    "session.create": session_committee.create,
    "session.commit_seed": session_committee.publish_commitment,
    "session.draw": session_committee.draw,
    "session.declare_conflict": session_committee.declare_conflict,
    "session.check_in": session_committee.check_in,
    "session.vote_chair": session_review.vote_chair,
    "session.preliminary": session_review.preliminary,
    "session.close_phase": session_review.close_phase,
    "session.score": session_review.score,
    "session.submit_scores": session_review.submit_scores,
    "session.revise_score": session_review.revise_score,
    "session.deviation_reason": session_review.deviation_reason,
    "session.goback_request": session_review.goback_request,
    "session.goback_approve": session_review.goback_approve,
    "session.goback_reject": session_review.goback_reject,
    "session.clarify_ask": session_clarify.ask,
    "session.clarify_approve": session_clarify.approve,
    "session.clarify_reject": session_clarify.reject,
    "session.clarify_answer": session_clarify.answer,
    "session.sign_report": session_report.sign_report,
    "session.rate_expert": session_report.rate_expert,
    "session.pause": session_control.pause,
    "session.resume": session_control.resume,
    "session.warn": session_control.warn,
    "session.annotate": session_control.annotate,
    "session.venue_lost": session_control.venue_lost,
    "session.venue_restored": session_control.venue_restored,
    "session.tenderer_decision": session_control.tenderer_decision,
    "session.clock": session_control.clock,
    # method rules in the session
    "session.arithmetic_errors": session_rules.arithmetic_errors,
    "session.price_scores": session_rules.feed_price_scores,
    "session.price_scores_approve": session_rules.approve_price_scores,
    "session.price_scores_reject": session_rules.reject_price_scores,
    "session.correction_request": session_rules.request_correction,
    "session.correction_approve": session_rules.approve_correction,
    "session.correction_reject": session_rules.reject_correction,
    "session.rank_vote": session_rules.rank_vote,
}

_COMMITTEE = frozenset({Role.EXPERT, Role.CHAIR})
_SUPERVISOR = frozenset({Role.SUPERVISOR})
_DRAWER = frozenset({Role.AGENCY, Role.SUPERVISOR, SYSTEM})

# Who may send each command, by a role held in the session or its tender (docs/domain.md's table).
COMMAND_ROLES: dict[str, frozenset[str]] = {
    "session.create": frozenset({Role.AGENCY}),
    "session.commit_seed": _DRAWER,
    "session.draw": _DRAWER,
    "session.declare_conflict": frozenset({Role.EXPERT, Role.SUPERVISOR}),
    "session.check_in": frozenset({Role.OPERATOR}),
    "session.vote_chair": _COMMITTEE,
    "session.preliminary": _COMMITTEE,
    "session.close_phase": frozenset({Role.CHAIR}),
    "session.score": _COMMITTEE,
    "session.submit_scores": _COMMITTEE,
    "session.revise_score": _COMMITTEE,
    "session.deviation_reason": _COMMITTEE,
    "session.goback_request": frozenset({Role.CHAIR}),
    "session.goback_approve": _SUPERVISOR,
    "session.goback_reject": _SUPERVISOR,
    "session.clarify_ask": _COMMITTEE,
    "session.clarify_approve": _SUPERVISOR,
    "session.clarify_reject": _SUPERVISOR,
    "session.clarify_answer": frozenset({Role.BIDDER}),
    "session.sign_report": _COMMITTEE,
    "session.rate_expert": frozenset({Role.AGENCY, Role.SUPERVISOR}),
    "session.pause": _SUPERVISOR,
    "session.resume": _SUPERVISOR,
    "session.warn": _SUPERVISOR,
    "session.annotate": _SUPERVISOR,
    "session.venue_lost": frozenset({SYSTEM}),
    "session.venue_restored": frozenset({SYSTEM}),
    "session.tenderer_decision": frozenset({Role.TENDERER}),
    "session.clock": frozenset({SYSTEM}),
    # method rules in the session
    "session.arithmetic_errors": frozenset({Role.CHAIR}),
    "session.price_scores": frozenset({Role.AGENCY}),
    "session.price_scores_approve": _SUPERVISOR,
    "session.price_scores_reject": _SUPERVISOR,
    "session.correction_request": frozenset({Role.CHAIR}),
    "session.correction_approve": _SUPERVISOR,
    "session.correction_reject": _SUPERVISOR,
    "session.rank_vote": _COMMITTEE,
}

# Commands whose events carry the actor's signature: their specs must be ``signed``.
SIGNED = frozenset(
    {
        "session.preliminary",
        "session.score",
        "session.submit_scores",
        "session.revise_score",
        "session.deviation_reason",
        "session.clarify_answer",
        "session.sign_report",
        "session.annotate",
        "session.rank_vote",  # method rules: a recommendation ballot
    }
)


def may_read_scores(state: Mapping[str, Any], actor: Actor, expert: str | None = None) -> bool:
    """Whether ``actor`` may read ``expert``'s scores (``None``: every expert's).

    Supervisors: always. A seated expert: their own always, everyone's once revealed (every
    sheet submitted; going back to the detailed review hides them again until resubmitted).
    Agency and tenderer: only once the session is closed (the report is handed over).
    Bidders, operators, withdrawn experts: never.
    """
    if Role.SUPERVISOR in actor.roles:
        return True
    committee = state.get("committee", {})
    if actor.user_id in committee:
        return expert == actor.user_id or bool(state.get("revealed"))
    closed = state.get("phase") == Phase.CLOSED.value
    return closed and bool(actor.roles & {Role.AGENCY, Role.TENDERER})

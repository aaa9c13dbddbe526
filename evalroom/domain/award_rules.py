"""The four award methods of 评定分离 as pure rules over data: the 定标委员会's rounds of votes,
the reduction to N finalists, the public lot from a committed seed, the lowest price, and the
chair's decision after the members' opinions.

Everything the live decider (:mod:`evalroom.domain.award`) decides is recomputed here from
what it recorded, so the offline verifier (``clients/verify.py``) re-runs the same functions
over the signed votes and the revealed seed, and names each difference.

Methods (``AwardMethod.kind``), as a tender or the award's set-up states them:

- ``vote`` 票决法: each member votes for one candidate; the most votes wins; a tie for first
  is voted again among the tied.
- ``vote_lot`` 票决抽签法: votes reduce the candidates to ``finalists`` (N): the candidates are
  taken by votes from the top; where the last seats fall inside a group of equal votes, that
  group is voted again for the seats left. Then a public lot picks one of the N with a seed
  whose SHA-256 was published before the first vote (:func:`draw_lot`).
- ``deliberation`` 集体议事法: every member states an opinion (a candidate and reasons); the
  chair (定标委员会组长) then decides, with reasons, after every opinion is in.
- ``price`` 价格竞争定标法: the lowest read-out price among the candidates wins. Equal lowest
  prices: ``price_tie`` ``"rank"`` (default: the better rank of the signed evaluation report)
  or ``"vote"`` (the members vote among the tied, as in 票决法).

Ties that votes do not resolve: after ``max_rounds`` rounds (default 3) in one selection, a
round still tied is decided by the evaluation report's rank (the better-ranked candidates
take the seats left). An odd committee makes this rare; it keeps the procedure finite.

There is no abstention: every member votes for exactly one of the round's candidates, and a
round closes when every member has voted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from evalroom.domain.method_rules import commit_seed
from evalroom.domain.rules import RuleError, read_decimal

DEFAULT_MAX_ROUNDS = 3
DEFAULT_FINALISTS = 2
_LOT_LABEL = b"evalroom/award-lot/v1\x00"
_MEMBERS_LABEL = b"evalroom/award-members/v1\x00"


class Kind(StrEnum):
    VOTE = "vote"  # 票决法
    VOTE_LOT = "vote_lot"  # 票决抽签法
    DELIBERATION = "deliberation"  # 集体议事法
    PRICE = "price"  # 价格竞争定标法


def _invalid(message: str) -> RuleError:
    return RuleError("invalid_award", message)


@dataclass(frozen=True)
class AwardMethod:
    kind: Kind
    finalists: int = DEFAULT_FINALISTS  # vote_lot: N
    price_tie: str = "rank"  # price: "rank" | "vote"
    max_rounds: int = DEFAULT_MAX_ROUNDS

    @property
    def votes(self) -> bool:
        return self.kind in (Kind.VOTE, Kind.VOTE_LOT)

    @classmethod
    def from_dict(cls, value: object) -> AwardMethod:
        if not isinstance(value, Mapping):
            raise _invalid("method must be an object {kind, ...}")
        unknown = set(value) - {"kind", "finalists", "price_tie", "max_rounds"}
        if unknown:
            raise _invalid(f"method has unknown fields: {', '.join(sorted(unknown))}")
        try:
            kind = Kind(str(value.get("kind")))
        except ValueError:
            raise _invalid(f"method.kind must be one of {', '.join(Kind)}") from None
        finalists = value.get("finalists", DEFAULT_FINALISTS)
        max_rounds = value.get("max_rounds", DEFAULT_MAX_ROUNDS)
        for name, n, low in (("finalists", finalists, 2), ("max_rounds", max_rounds, 1)):
            if isinstance(n, bool) or not isinstance(n, int) or not low <= n <= 20:
                raise _invalid(f"method.{name} must be a whole number from {low} to 20")
        price_tie = value.get("price_tie", "rank")
        if price_tie not in ("rank", "vote"):
            raise _invalid('method.price_tie must be "rank" or "vote"')
        return cls(kind, finalists, price_tie, max_rounds)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "max_rounds": self.max_rounds}
        if self.kind is Kind.VOTE_LOT:
            out["finalists"] = self.finalists
        if self.kind is Kind.PRICE:
            out["price_tie"] = self.price_tie
        return out


@dataclass(frozen=True)
class Candidate:
    """A candidate of the signed evaluation report, with its read-out price."""

    bid_id: str
    company: str
    rank: int
    price: Decimal

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candidate:
        rank = d.get("rank")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise _invalid("a candidate's rank is a whole number from 1")
        return cls(str(d["bid_id"]), str(d["company"]), rank, read_decimal(d["price"], "price"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bid_id": self.bid_id,
            "company": self.company,
            "rank": self.rank,
            "price": format(self.price, "f"),
        }


def by_rank(candidates: Sequence[Candidate], among: Sequence[str]) -> list[str]:
    """``among`` ordered by the evaluation report's rank (best first), bid id breaking ties."""
    rank = {c.bid_id: (c.rank, c.bid_id) for c in candidates}
    return sorted(among, key=lambda b: rank[b])


# --- one round of votes ------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundResult:
    """One round: ``counts`` per candidate (every one listed), the candidates it ``chosen``
    for seats, and the ``tied`` group still contending for ``seats_left`` (empty when done).
    ``by_rank``: the seats the evaluation's rank gave after ``max_rounds``."""

    number: int
    candidates: tuple[str, ...]
    seats: int
    counts: Mapping[str, int]
    chosen: tuple[str, ...]
    tied: tuple[str, ...]
    seats_left: int
    by_rank: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "candidates": list(self.candidates),
            "seats": self.seats,
            "counts": dict(self.counts),
            "chosen": list(self.chosen),
            "tied": list(self.tied),
            "seats_left": self.seats_left,
            "by_rank": list(self.by_rank),
        }


def tally(candidates: Sequence[str], votes: Mapping[str, str]) -> dict[str, int]:
    """Votes per candidate, every candidate listed, in the round's order."""
    counts = dict.fromkeys(candidates, 0)
    for voter, choice in votes.items():
        if choice not in counts:
            raise RuleError("invalid_candidate", f"{voter} voted for {choice}, not a candidate")
        counts[choice] += 1
    return counts


def count_round(
    number: int,
    candidates: Sequence[str],
    seats: int,
    votes: Mapping[str, str],
    *,
    ranked: Sequence[Candidate],
    max_rounds: int,
) -> RoundResult:
    """Fill ``seats`` from the top of the tally; a group of equal votes that straddles the
    last seat is ``tied`` (voted again), or, in round ``max_rounds``, settled by rank."""
    counts = tally(candidates, votes)
    chosen: list[str] = []
    for level in sorted(set(counts.values()), reverse=True):
        group = [c for c in candidates if counts[c] == level]
        left = seats - len(chosen)
        if left == 0:
            break
        if len(group) <= left:
            chosen += group
            continue
        if number >= max_rounds:
            settled = tuple(by_rank(ranked, group)[:left])
            return RoundResult(
                number, tuple(candidates), seats, counts, (*chosen, *settled), (), 0, settled
            )
        return RoundResult(
            number, tuple(candidates), seats, counts, tuple(chosen), tuple(group), left
        )
    return RoundResult(number, tuple(candidates), seats, counts, tuple(chosen), (), 0)


# --- the lot ---------------------------------------------------------------------------------


def draw_lot(finalists: Sequence[str], seed: bytes, commitment: str) -> str:
    """The finalist the public lot picks: one of ``finalists`` sorted by bid id.

    ``commitment`` (hex SHA-256 of the seed) was published before the first vote; a seed that
    does not match it is refused (``seed_mismatch``). The index is ``x mod n`` of
    ``x = int.from_bytes(SHA-256(label ‖ seed ‖ order ‖ attempt), "big")`` with
    ``label = b"evalroom/award-lot/v1\\0"``, ``order`` the UTF-8 of the sorted bid ids joined
    by ``\\n`` and ``attempt`` one byte from 0; an ``x`` at or above the largest multiple of
    ``n`` below 2**256 is rejected and ``attempt`` goes up, so each finalist is equally
    likely. Anyone can recompute it with ``hashlib`` (docs/methods.md has a worked example).
    """
    if len(seed) < 16:
        raise RuleError("invalid_award", "the seed must have at least 16 bytes")
    if commit_seed(seed) != commitment.lower():
        raise RuleError("seed_mismatch", "the revealed seed does not match its commitment")
    order = sorted(finalists)
    if not order:
        raise _invalid("there is no finalist to draw from")
    n = len(order)
    limit = (2**256 // n) * n
    joined = "\n".join(order).encode()
    for attempt in range(256):
        digest = hashlib.sha256(_LOT_LABEL + seed + joined + bytes([attempt])).digest()
        x = int.from_bytes(digest, "big")
        if x < limit:
            return order[x % n]
    raise _invalid("no unbiased lot in 256 attempts")  # pragma: no cover


# --- the 定标委员会 drawn from the tenderer's panel ------------------------------------------


def draw_members(panel: Sequence[str], count: int, seed: bytes, commitment: str) -> list[str]:
    """The ``count`` members drawn from the tenderer's ``panel`` (user ids), in draw order.

    ``commitment`` (hex SHA-256 of the seed) was published in ``award.setup``, with the panel
    and the count, before the seed was revealed; a seed that does not match is refused
    (``seed_mismatch``). Pick ``i`` (from 0) is an index into the members not yet drawn,
    sorted by id: ``x mod n`` of ``x = int.from_bytes(SHA-256(label ‖ seed ‖ order ‖ i ‖
    attempt), "big")`` with ``label = b"evalroom/award-members/v1\\0"``, ``order`` the UTF-8 of
    the remaining ids joined by ``\\n``, ``i`` and ``attempt`` one byte each; an ``x`` at or
    above the largest multiple of ``n`` below 2**256 is rejected and ``attempt`` goes up, so
    every remaining member is equally likely (the expert draw's rejection sampling,
    :mod:`evalroom.domain.draw`, with the lot's hash construction)."""
    if len(seed) < 16:
        raise RuleError("weak_seed", "the seed must have at least 16 bytes")
    if commit_seed(seed) != commitment.lower():
        raise RuleError("seed_mismatch", "the revealed seed does not match its commitment")
    remaining = sorted(set(panel))
    if not 1 <= count < len(remaining) or count > 255:
        raise _invalid(f"{count} members cannot be drawn from a panel of {len(remaining)}")
    drawn: list[str] = []
    for i in range(count):
        n = len(remaining)
        limit = (2**256 // n) * n
        joined = "\n".join(remaining).encode()
        for attempt in range(256):
            digest = hashlib.sha256(_MEMBERS_LABEL + seed + joined + bytes([i, attempt])).digest()
            x = int.from_bytes(digest, "big")
            if x < limit:
                drawn.append(remaining.pop(x % n))
                break
        else:  # pragma: no cover
            raise _invalid("no unbiased pick in 256 attempts")
    return drawn


# --- the lowest price --------------------------------------------------------------------------


def lowest_priced(candidates: Sequence[Candidate]) -> list[str]:
    """The candidates sharing the lowest price (several: a tie), in rank order."""
    low = min(c.price for c in candidates)
    return by_rank(candidates, [c.bid_id for c in candidates if c.price == low])


# --- the whole award, recomputed from what was recorded ---------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the method gives: the ``winner`` (None while undecided), its ``basis`` (votes,
    lot, price, price_rank, chair), the rounds as recounted, and the lot's finalists."""

    winner: str | None
    basis: str | None
    rounds: tuple[RoundResult, ...] = ()
    finalists: tuple[str, ...] = ()
    pick: str | None = None
    problems: tuple[str, ...] = ()


def first_round(method: AwardMethod, candidates: Sequence[Candidate]) -> tuple[list[str], int]:
    """(candidates, seats) of the first round of votes, or ``([], 0)`` when none is needed."""
    ids = [c.bid_id for c in candidates]
    if method.kind is Kind.VOTE:
        return (ids, 1) if len(ids) > 1 else ([], 0)
    if method.kind is Kind.VOTE_LOT:
        return (ids, method.finalists) if len(ids) > method.finalists else ([], 0)
    if method.kind is Kind.PRICE and method.price_tie == "vote":
        tied = lowest_priced(candidates)
        return (tied, 1) if len(tied) > 1 else ([], 0)
    return [], 0


def next_round(result: RoundResult) -> tuple[list[str], int]:
    return (list(result.tied), result.seats_left) if result.seats_left else ([], 0)


def recompute(
    method: AwardMethod,
    candidates: Sequence[Candidate],
    rounds: Sequence[Mapping[str, Any]],
    *,
    seed: bytes | None = None,
    commitment: str | None = None,
    decision: Mapping[str, Any] | None = None,
    chair: str | None = None,
    members: Sequence[str] = (),
    opinions: Mapping[str, Any] | None = None,
) -> Outcome:
    """Re-run the award from the recorded votes (``rounds``: ``[{round, votes {member: bid}}]``
    in order), the revealed ``seed``, and the chair's ``decision``; ``problems`` names every
    way the record does not follow the method (a missing or extra round, a voter who is not a
    member or a member who did not vote, a decision before every opinion)."""
    problems: list[str] = []
    ids = [c.bid_id for c in candidates]
    if method.kind is Kind.DELIBERATION:
        if decision is None:
            return Outcome(None, None)
        missing = [m for m in members if m not in (opinions or {})]
        if missing:
            problems.append(f"the chair decided before the opinions of {', '.join(missing)}")
        if decision.get("by") != chair:
            problems.append(f"decided by {decision.get('by')}, not the chair {chair}")
        winner = decision.get("candidate")
        if winner not in ids:
            problems.append(f"the decision names {winner}, not a candidate")
        return Outcome(str(winner), "chair", problems=tuple(problems))
    if method.kind is Kind.PRICE and method.price_tie == "rank":
        return Outcome(lowest_priced(candidates)[0], "price")
    recounted: list[RoundResult] = []
    chosen: list[str] = []
    ballot, seats = first_round(method, candidates)
    for number, recorded in enumerate(rounds, start=1):
        if not seats:
            problems.append(f"round {number} was held but the method needs no more rounds")
            break
        votes = recorded.get("votes") or {}
        voters = set(votes)
        if voters != set(members):
            extra, absent = sorted(voters - set(members)), sorted(set(members) - voters)
            problems.append(
                f"round {number}: votes by non-members {extra}"
                if extra
                else f"round {number}: no vote from {absent}"
            )
        try:
            result = count_round(
                number, ballot, seats, votes, ranked=candidates, max_rounds=method.max_rounds
            )
        except RuleError as exc:
            problems.append(f"round {number}: {exc.message}")
            break
        recounted.append(result)
        chosen += result.chosen
        ballot, seats = next_round(result)
    if seats:
        return Outcome(None, None, tuple(recounted), problems=tuple(problems))
    if method.kind is Kind.VOTE:
        winner = chosen[0] if chosen else (ids[0] if ids else None)
        return Outcome(winner, "votes", tuple(recounted), problems=tuple(problems))
    if method.kind is Kind.PRICE:
        tied = lowest_priced(candidates)
        winner = chosen[0] if chosen else tied[0]
        basis = "price_vote" if recounted else "price"
        return Outcome(winner, basis, tuple(recounted), problems=tuple(problems))
    finalists = tuple(chosen) if recounted else tuple(ids)
    if seed is None or commitment is None:
        return Outcome(None, None, tuple(recounted), finalists, problems=tuple(problems))
    try:
        pick = draw_lot(finalists, seed, commitment)
    except RuleError as exc:
        problems.append(f"the lot: {exc.message}")
        return Outcome(None, None, tuple(recounted), finalists, problems=tuple(problems))
    return Outcome(pick, "lot", tuple(recounted), finalists, pick, tuple(problems))

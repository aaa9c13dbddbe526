"""Committee votes as pure tallies: electing the chair, and recommending by the experts' votes.

- :func:`elect_chair` — 推选组长 by plurality: every member casts one vote for a member; the
  most votes wins; a tie for first goes to a run-off among the tied (as many rounds as it
  takes; each round's ballots name only the tied).
- :func:`recommend_by_votes` — 投票法 (design and survey tenders): each expert votes for up
  to ``picks`` different bids; the bids are ordered by votes.
- :func:`recommend_by_ranks` — 排序法: each expert ranks every bid (best first); the bids are
  ordered by the sum of their places (lower is better), ties broken by more first places, then
  more second places, and so on.

Both recommendations fill ``seats`` candidates from the top. Bids with equal standing form one
group (unranked among themselves). When the last seats fall inside a group larger than the
seats left, those bids are ``tied`` and the committee votes again among them (the result names
how many seats stay open); nothing here breaks a tie by chance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalroom.domain.rules import RuleError

__all__ = [
    "Election",
    "ElectionRound",
    "Recommendation",
    "elect_chair",
    "recommend_by_ranks",
    "recommend_by_votes",
]


@dataclass(frozen=True)
class ElectionRound:
    candidates: tuple[str, ...]
    tally: Mapping[str, int]  # votes per candidate, every candidate listed (0 included)
    leaders: tuple[str, ...]  # the candidates with the most votes, sorted


@dataclass(frozen=True)
class Election:
    """The chair election so far: ``elected``, or the ``runoff`` the next round is among."""

    rounds: tuple[ElectionRound, ...]
    elected: str | None
    runoff: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": [
                {
                    "candidates": list(r.candidates),
                    "tally": dict(r.tally),
                    "leaders": list(r.leaders),
                }
                for r in self.rounds
            ],
            "elected": self.elected,
            "runoff": list(self.runoff),
        }


def _unique(ids: Sequence[str], what: str) -> tuple[str, ...]:
    if not ids or any(not isinstance(i, str) or not i for i in ids):
        raise RuleError("invalid_vote", f"{what} must be a non-empty list of ids")
    if len(set(ids)) != len(ids):
        raise RuleError("invalid_vote", f"{what} must not repeat")
    return tuple(ids)


def elect_chair(members: Sequence[str], rounds: Sequence[Mapping[str, str]]) -> Election:
    """Tally the chair election of ``members`` from each round's ballots (voter → candidate).

    Every member votes once per round, for a candidate of that round (all members in the
    first, the tied leaders afterwards). A round after someone is elected is refused.
    """
    candidates = _unique(members, "members")
    done: list[ElectionRound] = []
    elected: str | None = None
    for number, ballots in enumerate(rounds, 1):
        if elected is not None:
            raise RuleError("election_closed", f"round {number}: the chair is already elected")
        outsiders = sorted(set(ballots) - set(members))
        if outsiders:
            raise RuleError("not_a_committee_member", f"{outsiders[0]} is not on the committee")
        missing = sorted(set(members) - set(ballots))
        if missing:
            raise RuleError("missing_vote", f"round {number}: {missing[0]} has not voted")
        for voter, choice in sorted(ballots.items()):
            if choice not in candidates:
                raise RuleError(
                    "invalid_candidate", f"round {number}: {voter} voted for {choice!r}"
                )
        counted = Counter(ballots.values())
        tally = {c: counted.get(c, 0) for c in sorted(candidates)}
        top = max(tally.values())
        leaders = tuple(c for c in sorted(candidates) if tally[c] == top)
        done.append(ElectionRound(tuple(sorted(candidates)), tally, leaders))
        if len(leaders) == 1:
            elected = leaders[0]
        candidates = leaders
    runoff = () if elected is not None or not done else done[-1].leaders
    return Election(tuple(done), elected, runoff)


@dataclass(frozen=True)
class Recommendation:
    """推荐中标候选人 by the experts' votes or ranks."""

    method: str  # "votes" (投票法) or "ranks" (排序法)
    tally: Mapping[str, int]  # votes (votes) or sum of places (ranks), per bid
    groups: tuple[tuple[str, ...], ...]  # bids of equal standing, best group first
    recommended: tuple[str, ...]  # seats filled without a tie
    tied: tuple[str, ...]  # bids to vote again among, for the open seats
    open_seats: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "tally": dict(self.tally),
            "groups": [list(g) for g in self.groups],
            "recommended": list(self.recommended),
            "tied": list(self.tied),
            "open_seats": self.open_seats,
        }


def _fill(
    method: str,
    bids: tuple[str, ...],
    tally: Mapping[str, int],
    key: Callable[[str], Any],
    seats: int,
) -> Recommendation:
    if not 1 <= seats <= len(bids):
        raise RuleError("invalid_vote", f"seats must be between 1 and {len(bids)}")
    order = sorted(bids, key=lambda b: (key(b), b))
    groups: list[tuple[str, ...]] = []
    for b in order:
        if groups and key(groups[-1][0]) == key(b):
            groups[-1] = (*groups[-1], b)
        else:
            groups.append((b,))
    recommended: list[str] = []
    tied: tuple[str, ...] = ()
    for group in groups:
        left = seats - len(recommended)
        if left <= 0:
            break
        if len(group) <= left:
            recommended.extend(group)
        else:
            tied = group
            break
    open_seats = seats - len(recommended) if tied else 0
    return Recommendation(method, dict(tally), tuple(groups), tuple(recommended), tied, open_seats)


def recommend_by_votes(
    bids: Sequence[str], ballots: Mapping[str, Sequence[str]], seats: int, picks: int
) -> Recommendation:
    """投票法: each expert (key of ``ballots``) votes for 1..``picks`` different valid bids."""
    valid = _unique(bids, "bids")
    if not ballots:
        raise RuleError("missing_vote", "no expert has voted")
    if picks < 1:
        raise RuleError("invalid_vote", "picks must be at least 1")
    counted: Counter[str] = Counter()
    for expert, chosen in sorted(ballots.items()):
        if not 1 <= len(chosen) <= picks or len(set(chosen)) != len(chosen):
            raise RuleError("invalid_vote", f"{expert} must vote for 1 to {picks} different bids")
        unknown = sorted(set(chosen) - set(valid))
        if unknown:
            raise RuleError("invalid_candidate", f"{expert} voted for {unknown[0]!r}")
        counted.update(chosen)
    tally = {b: counted.get(b, 0) for b in sorted(valid)}
    return _fill("votes", valid, tally, lambda b: -tally[b], seats)


def recommend_by_ranks(
    bids: Sequence[str], ballots: Mapping[str, Sequence[str]], seats: int
) -> Recommendation:
    """排序法: each expert ranks every valid bid, best first; lower place sums win."""
    valid = _unique(bids, "bids")
    if not ballots:
        raise RuleError("missing_vote", "no expert has voted")
    places: dict[str, list[int]] = {b: [] for b in valid}
    for expert, ranking in sorted(ballots.items()):
        if sorted(ranking) != sorted(valid):
            raise RuleError("invalid_vote", f"{expert} must rank every bid exactly once")
        for place, bid in enumerate(ranking, 1):
            places[bid].append(place)
    tally = {b: sum(places[b]) for b in sorted(valid)}
    n = len(valid)

    def standing(b: str) -> tuple[int, ...]:
        counts = Counter(places[b])
        return (tally[b], *(-counts.get(p, 0) for p in range(1, n + 1)))

    return _fill("ranks", valid, tally, standing, seats)

"""Committee votes: the chair by plurality with run-offs, and recommendations by votes or ranks."""

from __future__ import annotations

from typing import Any

import pytest

from evalroom.domain.rules import RuleError
from evalroom.domain.votes import elect_chair, recommend_by_ranks, recommend_by_votes

MEMBERS = ["E1", "E2", "E3", "E4", "E5"]


def refused(code: str, call: Any, *args: Any) -> None:
    with pytest.raises(RuleError) as e:
        call(*args)
    assert e.value.code == code, e.value.message


# --- chair election (推选组长) ----------------------------------------------------------------


def test_plurality_elects_in_one_round() -> None:
    # E2: 3 votes, E1: 1, E4: 1 -> E2 without a majority run-off
    ballots = {"E1": "E2", "E2": "E2", "E3": "E2", "E4": "E1", "E5": "E4"}
    election = elect_chair(MEMBERS, [ballots])
    assert election.elected == "E2" and election.runoff == ()
    assert election.rounds[0].tally == {"E1": 1, "E2": 3, "E3": 0, "E4": 1, "E5": 0}


def test_a_tie_goes_to_a_runoff_among_the_tied() -> None:
    first = {"E1": "E1", "E2": "E3", "E3": "E3", "E4": "E1", "E5": "E5"}  # E1 2, E3 2, E5 1
    election = elect_chair(MEMBERS, [first])
    assert election.elected is None and election.runoff == ("E1", "E3")
    second = {"E1": "E1", "E2": "E3", "E3": "E3", "E4": "E1", "E5": "E3"}
    election = elect_chair(MEMBERS, [first, second])
    assert election.elected == "E3"
    assert election.rounds[1].tally == {"E1": 2, "E3": 3}
    assert election.to_dict()["rounds"][1]["candidates"] == ["E1", "E3"]


def test_a_runoff_ballot_for_someone_not_tied_is_refused() -> None:
    first = {"E1": "E1", "E2": "E3", "E3": "E3", "E4": "E1", "E5": "E5"}
    second = {"E1": "E1", "E2": "E3", "E3": "E3", "E4": "E1", "E5": "E5"}
    refused("invalid_candidate", elect_chair, MEMBERS, [first, second])


def test_a_runoff_can_tie_again() -> None:
    four = ["E1", "E2", "E3", "E4"]
    tie = {"E1": "E1", "E2": "E2", "E3": "E1", "E4": "E2"}
    election = elect_chair(four, [tie, tie])
    assert election.elected is None and election.runoff == ("E1", "E2")


def test_election_ballots_are_checked() -> None:
    refused("missing_vote", elect_chair, MEMBERS, [{"E1": "E1"}])
    outsider = dict.fromkeys(MEMBERS, "E1") | {"X9": "E1"}
    refused("not_a_committee_member", elect_chair, MEMBERS, [outsider])
    refused("invalid_candidate", elect_chair, MEMBERS, [dict.fromkeys(MEMBERS, "X9")])
    done = dict.fromkeys(MEMBERS, "E1")
    refused("election_closed", elect_chair, MEMBERS, [done, done])
    refused("invalid_vote", elect_chair, ["E1", "E1"], [])


def test_no_rounds_yet_means_no_chair() -> None:
    election = elect_chair(MEMBERS, [])
    assert (election.elected, election.runoff, election.rounds) == (None, (), ())


# --- 投票法 -------------------------------------------------------------------------------------

BIDS = ["B1", "B2", "B3", "B4"]


def test_votes_recommend_the_most_voted() -> None:
    ballots = {
        "E1": ["B1", "B2"],
        "E2": ["B1", "B3"],
        "E3": ["B2", "B1"],
        "E4": ["B1", "B4"],
        "E5": ["B2", "B3"],
    }
    # B1 4, B2 3, B3 2, B4 1
    got = recommend_by_votes(BIDS, ballots, seats=2, picks=2)
    assert got.recommended == ("B1", "B2") and got.tied == () and got.open_seats == 0
    assert got.tally == {"B1": 4, "B2": 3, "B3": 2, "B4": 1}
    assert got.groups == (("B1",), ("B2",), ("B3",), ("B4",))


def test_votes_tied_at_the_cut_need_another_vote() -> None:
    ballots = {"E1": ["B1"], "E2": ["B1"], "E3": ["B2"], "E4": ["B3"], "E5": ["B4"]}
    # B1 2; B2, B3, B4 1 each: 3 bids for the 2 seats left
    got = recommend_by_votes(BIDS, ballots, seats=3, picks=1)
    assert got.recommended == ("B1",)
    assert got.tied == ("B2", "B3", "B4") and got.open_seats == 2


def test_a_tie_inside_the_seats_is_kept_unranked() -> None:
    ballots = {"E1": ["B1"], "E2": ["B2"], "E3": ["B1"], "E4": ["B2"], "E5": ["B3"]}
    got = recommend_by_votes(BIDS, ballots, seats=2, picks=1)
    assert got.recommended == ("B1", "B2") and got.groups[0] == ("B1", "B2")


def test_bad_vote_ballots_refused() -> None:
    refused("invalid_vote", recommend_by_votes, BIDS, {"E1": ["B1", "B2"]}, 1, 1)
    refused("invalid_vote", recommend_by_votes, BIDS, {"E1": ["B1", "B1"]}, 1, 2)
    refused("invalid_vote", recommend_by_votes, BIDS, {"E1": []}, 1, 1)
    refused("invalid_candidate", recommend_by_votes, BIDS, {"E1": ["B9"]}, 1, 1)
    refused("missing_vote", recommend_by_votes, BIDS, {}, 1, 1)
    refused("invalid_vote", recommend_by_votes, BIDS, {"E1": ["B1"]}, 5, 1)


# --- 排序法 -------------------------------------------------------------------------------------


def test_ranks_recommend_the_lowest_place_sums() -> None:
    ballots = {
        "E1": ["B1", "B2", "B3", "B4"],
        "E2": ["B2", "B1", "B3", "B4"],
        "E3": ["B1", "B3", "B2", "B4"],
    }
    # B1 1+2+1 = 4, B2 2+1+3 = 6, B3 3+3+2 = 8, B4 12
    got = recommend_by_ranks(BIDS, ballots, seats=3)
    assert got.tally == {"B1": 4, "B2": 6, "B3": 8, "B4": 12}
    assert got.recommended == ("B1", "B2", "B3")


def test_a_complete_tie_is_left_to_another_vote() -> None:
    ballots = {
        "E1": ["B1", "B2", "B3", "B4"],
        "E2": ["B2", "B3", "B1", "B4"],
        "E3": ["B3", "B1", "B2", "B4"],
    }
    # B1 1+3+2 = 6, B2 2+1+3 = 6, B3 3+2+1 = 6; each has one 1st, one 2nd, one 3rd place
    got = recommend_by_ranks(BIDS, ballots, seats=1)
    assert got.recommended == () and got.tied == ("B1", "B2", "B3") and got.open_seats == 1
    # with two seats the same three still compete: nothing is filled by chance
    assert recommend_by_ranks(BIDS, ballots, seats=2).tied == ("B1", "B2", "B3")
    assert recommend_by_ranks(BIDS, ballots, seats=3).recommended == ("B1", "B2", "B3")


def test_sum_tie_broken_by_first_places() -> None:
    ballots = {
        "E1": ["B1", "B3", "B2", "B4"],
        "E2": ["B1", "B4", "B2", "B3"],
        "E3": ["B2", "B3", "B4", "B1"],
        "E4": ["B2", "B1", "B3", "B4"],
        "E5": ["B3", "B2", "B1", "B4"],
    }
    # B1 1+1+4+2+3 = 11 (two 1st), B2 3+3+1+1+2 = 10 (two 1st) -> B2 first
    # B3 2+4+2+3+1 = 12, B4 4+2+3+4+4 = 17
    got = recommend_by_ranks(BIDS, ballots, seats=2)
    assert got.recommended == ("B2", "B1")
    ballots["E5"] = ["B3", "B1", "B2", "B4"]
    # now B1 1+1+4+2+2 = 10 with two 1st, B2 3+3+1+1+3 = 11 -> B1 first
    assert recommend_by_ranks(BIDS, ballots, seats=1).recommended == ("B1",)


def test_a_rank_ballot_must_rank_every_bid_once() -> None:
    refused("invalid_vote", recommend_by_ranks, BIDS, {"E1": ["B1", "B2", "B3"]}, 1)
    refused("invalid_vote", recommend_by_ranks, BIDS, {"E1": ["B1", "B1", "B2", "B3"]}, 1)
    refused("missing_vote", recommend_by_ranks, BIDS, {}, 1)

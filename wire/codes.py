"""The protocol's numbers and names: version, close codes, error codes, frame limits.

``docs/protocol.md`` says what each means; the browser client (``clients/web/js``) repeats
the ones it needs, and ``tests/test_wire.py`` checks that it says the same.
"""

from __future__ import annotations

from enum import IntEnum

PROTOCOL_VERSION = 1

# A frame's size limit in bytes (UTF-8), the node's default ``max_message_bytes``; a frame
# more than ``TOO_LARGE_FACTOR`` times over it closes the socket instead of being answered.
MAX_MESSAGE_BYTES = 64 * 1024
TOO_LARGE_FACTOR = 16

# What one outgoing batch may hold (``wire.batch``).
BATCH_BYTES = 64 * 1024
BATCH_FRAMES = 256


class CloseCode(IntEnum):
    """Why a ``/ws`` socket closed: the WebSocket standard's codes and ours (4000-4999)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006  # no close frame: the connection dropped
    TOO_LARGE = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    UNAUTHENTICATED = 4001  # the token expired or was revoked: log in again
    ORIGIN = 4003  # a browser page from an origin the node does not serve
    TOO_SLOW = 4008  # the send queue filled: resume from the last seq received
    HEARTBEAT = 4009  # no heartbeat within the node's window


# Closes after which a client reconnects and resumes (to the same node or another).
RESUMABLE_CLOSES = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.ABNORMAL,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
        CloseCode.TOO_SLOW,
        CloseCode.HEARTBEAT,
    }
)
# ... and those after which a client that means to stay connected reconnects at all: a
# normal close too, and an expired token after logging in again.
RECONNECT_CLOSES = RESUMABLE_CLOSES | {CloseCode.NORMAL, CloseCode.UNAUTHENTICATED}

# Every stable error code an ``error`` frame or an HTTP refusal may carry. The sentences
# people read are the server's (``evalroom/errors.py``, whose catalog must list exactly these).
ERROR_CODES = frozenset(
    {
        "already_answered",
        "already_checked_in",
        "already_committed",
        "already_confirmed",
        "already_exists",
        "already_opened",
        "already_paused",
        "already_rated",
        "already_read_out",
        "already_requested",
        "already_signed",
        "already_signed_in",
        "already_submitted",
        "already_voted",
        "approval_required",
        "award_changed",
        "bad_signature",
        "bid_rejected",
        "bids_not_accepted",
        "chair_only",
        "chair_required",
        "challenge_expired",
        "clarification_pending",
        "conflict_of_interest",
        "conflict_of_roles",
        "correction_stale",
        "deadline_passed",
        "deviation_reason_missing",
        "draw_failed",
        "draw_mismatch",
        "duplicate_bid",
        "duplicate_expert",
        "election_closed",
        "floating_point_missing",
        "floating_point_out_of_range",
        "floating_point_unexpected",
        "forbidden",
        "id_reused",
        "identity_unverified",
        "incomplete",
        "internal",
        "invalid",
        "invalid_bid",
        "invalid_award",
        "invalid_candidate",
        "invalid_committee",
        "invalid_config",
        "invalid_correction",
        "invalid_envelope",
        "invalid_form",
        "invalid_goback",
        "invalid_key",
        "invalid_pool",
        "invalid_pool_csv",
        "invalid_request",
        "invalid_rule",
        "invalid_score",
        "invalid_share",
        "invalid_sheet",
        "invalid_threshold",
        "invalid_venues",
        "invalid_vote",
        "malformed",
        "missing_price_score",
        "missing_score",
        "missing_verdict",
        "missing_vote",
        "no_bid",
        "no_checkpoint",
        "no_request",
        "no_valid_bids",
        "not_a_bidder",
        "not_a_committee_member",
        "not_a_company",
        "not_an_award_member",
        "not_appointer",
        "not_checked_in",
        "not_committed",
        "not_configured",
        "not_enough_experts",
        "not_flagged",
        "not_grantable",
        "not_in_committee",
        "not_opened",
        "not_paused",
        "not_pending",
        "not_ready",
        "not_signed_in",
        "not_submitted",
        "not_subscribed_role",
        "not_the_award_chair",
        "not_the_chair",
        "not_your_venue",
        "not_yours",
        "objection_open",
        "objection_window_closed",
        "opinions_missing",
        "origin_not_allowed",
        "outcome_unknown",
        "overloaded",
        "paused",
        "pool_mismatch",
        "pool_required",
        "price_score_out_of_range",
        "price_score_unexpected",
        "rating_out_of_range",
        "publicity_running",
        "reason_required",
        "record_inconsistent",
        "report_changed",
        "request_mismatch",
        "rule",
        "score_not_allowed",
        "score_out_of_range",
        "seat_taken",
        "section_failed",
        "seed_mismatch",
        "seed_too_short",
        "self_grant",
        "session_exists",
        "shares_do_not_match",
        "store_unavailable",
        "supervisor_absent",
        "too_early",
        "too_few_seats",
        "too_large",
        "unauthenticated",
        "unknown_bid",
        "unknown_bidder",
        "unknown_clarification",
        "unknown_criterion",
        "unknown_envelope",
        "unknown_expert",
        "unknown_objection",
        "unknown_section",
        "unknown_stream",
        "unknown_type",
        "unknown_user",
        "unknown_venue",
        "unsupported_version",
        "verdicts_differ",
        "weak_seed",
        "window_closed",
        "window_open",
        "withdrawn",
        "wrong_phase",
        # method rules in the session
        "already_drawn",
        "floating_point_mismatch",
        "recommendation_pending",
    }
)

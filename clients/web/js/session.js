/**
 * An evaluation session as a page sees it, folded from the events of `session:<id>` that the
 * participant may see (an agency gets phase and progress only; the supervisor everything):
 * the bids and those the opening rejected by the control price (否决投标, never scored) or
 * flagged below its floor, the fewer-than-three-valid-bids decision, and the award that runs
 * in the same stream once the session closed (`award.*`, 定标: `foldAward`).
 * @module session
 */

/** @returns {any} */
export function emptySession() {
  return {
    phase: "", venues: {}, method: null, committee: [], checkedIn: {}, rosters: {},
    chair: null, passed: null, myScores: {}, scores: {}, submitted: false, sheets: null,
    deviations: [], reasons: {}, report: null, digest: "", signed: [], progress: {},
    pause: null, clarifications: {}, feed: [], bids: [], verdicts: {}, goback: null,
    gobacks: [], warnings: [], notes: [], openingRecord: [],
    rejected: [], flagged: [], fewValid: null, allRejected: false, award: null,
    seedCommitment: null, drawCommitment: null, draw: null, drawFailed: null,
  };
}

/** The award (定标) as published to this participant. @returns {any} */
export function emptyAward() {
  return {
    phase: "", method: {}, candidates: [], memberCount: null, members: [], chair: null,
    objectionSeconds: null, signedIn: {}, progress: {}, seedCommitment: null, voting: null,
    rounds: [], votes: {}, finalists: [], lot: null, opinions: {}, decision: null,
    report: null, digest: null, signatures: {}, publicity: null, objections: [],
    publicityClosed: null, notice: null,
  };
}

/**
 * One `award.*` event into the award's state (as clients/folds/award.py).
 * @param {any} a @param {{type: string, payload: any, actor: string, at: string}} ev
 */
export function foldAward(a, ev) {
  const p = ev.payload || {};
  switch (ev.type) {
    case "award.set_up":
      a.method = p.method || {};
      a.candidates = p.candidates || [];
      a.memberCount = typeof p.members === "number" ? p.members : null;
      a.objectionSeconds = p.objection_seconds ?? null;
      a.phase ||= "sign_in";
      break;
    case "award.committee":
      a.members = p.members || [];
      a.memberCount = a.members.length;
      a.chair = p.chair || null;
      break;
    case "award.phase":
      a.phase = p.phase;
      break;
    case "award.progress":
      a.progress[p.step] = { done: p.done, of: p.of };
      break;
    case "award.signed_in":
      a.signedIn[ev.actor || p.who] = p.as || "member";
      break;
    case "award.seed_committed":
      a.seedCommitment = p.commitment;
      break;
    case "award.voting_opened":
      a.voting = { round: p.round, candidates: p.candidates || [], seats: p.seats };
      break;
    case "award.vote":
      (a.votes[ev.actor || ""] ||= {})[p.round] = p.candidate;
      break;
    case "award.round":
      a.rounds.push(p);
      a.voting = null;
      break;
    case "award.lot_drawn":
      a.lot = p;
      a.finalists = p.finalists || [];
      a.seedCommitment = p.commitment || a.seedCommitment;
      break;
    case "award.opinion":
      a.opinions[ev.actor || p.member] = { candidate: p.candidate, opinion: p.opinion };
      break;
    case "award.decided":
      a.decision = { ...p, by: ev.actor };
      break;
    case "award.report":
      a.report = p.report;
      a.digest = p.award_digest;
      a.signatures = {};
      if (p.report?.finalists?.length) a.finalists = p.report.finalists;
      break;
    case "award.report_signed":
      a.signatures[ev.actor || p.member] = p.dissent ?? null;
      break;
    case "award.report_final":
      a.report = p.report;
      a.digest = p.award_digest;
      a.signatures = Object.fromEntries(Object.entries(p.signatures || {}).map(([m, x]) => [m, /** @type {any} */ (x)?.dissent ?? null]));
      break;
    case "award.publicity":
      a.publicity = p;
      a.phase = "publicity"; // award.phase is staff-only: bidders learn it here
      a.digest = p.award_digest || a.digest;
      if (!a.candidates.length) a.candidates = p.candidates || [];
      break;
    case "award.objection":
      a.objections.push({ id: p.id, company: p.company, text: p.text, at: ev.at, answer: null });
      break;
    case "award.objection_answered": {
      let o = a.objections.find((/** @type {any} */ x) => x.id === p.id);
      if (!o) a.objections.push((o = { id: p.id, company: p.company }));
      Object.assign(o, { answer: p.answer, answeredAt: ev.at });
      break;
    }
    case "award.publicity_closed":
      a.publicityClosed = p;
      a.phase = "publicity_over";
      break;
    case "award.notice":
      a.notice = p;
      a.phase = "awarded";
      break;
  }
}

/** The award's winner as published (公示, notice), else as its report gives it. @param {any} a */
export function awardWinner(a) {
  return a?.notice?.winner || a?.publicity?.winner || a?.report?.winner || null;
}

/** @param {any} s @param {{type: string, payload: any, actor: string, at: string, seq: number}} ev @param {string} me */
export function foldSession(s, ev, me) {
  const p = ev.payload || {};
  s.feed.push(ev);
  if (ev.type.startsWith("award.")) {
    foldAward((s.award ||= emptyAward()), ev);
    return;
  }
  switch (ev.type) {
    case "session.created":
      s.phase = "draw";
      s.venues = Array.isArray(p.venues)
        ? Object.fromEntries(p.venues.map((/** @type {any} */ v) => [v.id, v]))
        : Object.fromEntries(Object.entries(p.venues).map(([id, v]) => [id, { id, ...v }]));
      s.method = p.method;
      s.tender = p.tender;
      s.openingRecord = p.opening_record || [];
      break;
    case "session.phase":
      s.phase = p.phase;
      break;
    case "session.seed_committed":
      s.seedCommitment = p;
      s.drawFailed = null;
      break;
    case "session.drawn":
      s.draw = p;
      s.drawCommitment = s.seedCommitment;
      break;
    case "session.draw_failed":
      s.drawFailed = p;
      s.seedCommitment = null; // refused before any pick: a new seed is committed
      break;
    case "session.bids":
      s.bids = p.bids;
      s.rejected = p.rejected || [];
      s.flagged = p.flagged || [];
      break;
    case "session.few_valid":
      s.fewValid = p;
      break;
    case "session.closed":
      s.allRejected = !!p.all_rejected;
      break;
    case "session.verdict":
      ((s.verdicts[p.bid] ||= {})[p.criterion] = { pass: p.pass, reason: p.reason });
      break;
    case "session.goback_requested":
      s.goback = { ...p, at: ev.at };
      break;
    case "session.goback_approved":
    case "session.goback_rejected":
      if (ev.type === "session.goback_approved" && p.to_phase === "preliminary_review") s.fewValid = null;
      s.goback = null;
      s.gobacks.push({ ...p, outcome: ev.type.split("_").pop(), at: ev.at });
      break;
    case "session.warning":
      s.warnings.push({ ...p, at: ev.at });
      break;
    case "session.note":
      s.notes.push({ ...p, at: ev.at, by: ev.actor });
      break;
    case "session.committee":
      s.committee = p.members;
      break;
    case "session.venue_roster":
      s.rosters[p.venue] = p.members;
      break;
    case "session.checked_in":
      s.checkedIn[p.expert] = { ...p, at: ev.at };
      break;
    case "session.chair_round":
      if (p.elected) s.chair = p.elected;
      break;
    case "session.preliminary_result":
      s.passed = p.passed;
      break;
    case "session.score":
    case "session.score_revised": {
      const expert = ev.actor;
      ((s.scores[expert] ||= {})[p.bid] ||= {})[p.criterion] = p.score;
      if (expert === me) (s.myScores[p.bid] ||= {})[p.criterion] = p.score;
      break;
    }
    case "session.scores_submitted":
      if (ev.actor === me) s.submitted = true;
      break;
    case "session.scores_revealed":
      s.sheets = p.sheets;
      for (const sheet of p.sheets) s.scores[sheet.expert_id] = sheet.scores;
      break;
    case "session.deviations":
      s.deviations = p.deviations;
      break;
    case "session.deviation_reason":
      (s.reasons[ev.actor] ||= {})[`${p.bid}/${p.criterion}`] = p.reason;
      break;
    case "session.ranking":
      s.report = p.report;
      s.digest = p.report_digest;
      break;
    case "session.report_signed":
      s.signed.push(ev.actor);
      break;
    case "session.progress":
      s.progress[p.step] = p;
      break;
    case "session.paused":
      s.pause = p;
      break;
    case "session.resumed":
    case "session.pause_lifted":
      s.pause = null;
      break;
    case "session.clarification_asked":
      s.clarifications[p.id] = { ...p, status: "asked" };
      break;
    case "session.clarification_approved":
    case "session.clarification_rejected":
    case "session.clarification_answered":
    case "session.clarification_expired":
      if (s.clarifications[p.id]) {
        Object.assign(s.clarifications[p.id], { ...p, status: ev.type.split("_").pop() });
      }
      break;
  }
}

/** The criteria experts score, with their maximum points. @param {any} s */
export function expertCriteria(s) {
  return (s.method?.criteria || []).filter((/** @type {any} */ c) => c.kind === "expert");
}

/** The pass/fail criteria of the preliminary review. @param {any} s */
export function passFailCriteria(s) {
  return (s.method?.criteria || []).filter((/** @type {any} */ c) => c.kind === "pass_fail");
}

/** Bids under detailed review (those that passed the preliminary review). @param {any} s */
export function scoredBids(s) {
  if (s.passed) return s.passed;
  return Object.keys(Object.values(s.scores)[0] || {});
}

/** The criteria experts enter figures on: expert points and deduction items (扣分项). @param {any} s */
export function scoredCriteria(s) {
  return (s.method?.criteria || []).filter((/** @type {any} */ c) => c.kind === "expert" || c.kind === "deduction");
}

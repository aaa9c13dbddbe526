/**
 * An evaluation session as a page sees it, folded from the events of `session:<id>` that the
 * participant may see (an agency gets phase and progress only; the supervisor everything).
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
  };
}

/** @param {any} s @param {{type: string, payload: any, actor: string, at: string, seq: number}} ev @param {string} me */
export function foldSession(s, ev, me) {
  const p = ev.payload || {};
  s.feed.push(ev);
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
    case "session.bids":
      s.bids = p.bids;
      break;
    case "session.verdict":
      ((s.verdicts[p.bid] ||= {})[p.criterion] = { pass: p.pass, reason: p.reason });
      break;
    case "session.goback_requested":
      s.goback = { ...p, at: ev.at };
      break;
    case "session.goback_approved":
    case "session.goback_rejected":
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

/**
 * A tender's opening as the page sees it, folded from the events of `tender:<id>` (and, for a
 * bidder, of its company's own `bid:` stream: its registration and bids).
 * Pure: `foldTender(state, event)` returns nothing and updates `state` in place.
 * @module tender
 */

/** @returns {any} */
export function emptyTender() {
  return {
    title: "", phase: "", config: null, stage: "", windowEnds: "", bids: {}, mine: {},
    signedIn: [], readOut: null, objections: [], confirmed: [], recordSigned: [],
    record: null, notices: [], receipts: [], failed: [],
  };
}

/** @param {any} s @param {{type: string, payload: any, actor: string}} ev */
export function foldTender(s, ev) {
  const p = ev.payload || {};
  switch (ev.type) {
    case "tender.created":
      s.title = p.title;
      s.phase = p.phase;
      break;
    case "tender.configured":
      s.config = p;
      break;
    case "tender.published":
      s.phase = "bidding";
      break;
    case "tender.notice":
      s.notices.push(p.text);
      break;
    case "bid.submitted":
      s.receipts.push(p);
      break;
    case "opening.started":
      s.phase = "opening";
      s.stage = p.stage;
      s.windowEnds = p.window_ends;
      s.windowClosed = false; // each stage has its own window (the commercial after the technical)
      s.bids = {};
      s.readOut = null;
      s.objections = [];
      s.confirmed = [];
      s.recordSigned = [];
      s.signedIn = [];
      for (const b of p.bids) s.bids[b.number] = { ...b };
      break;
    case "opening.your_bid":
      s.mine[p.number] = p.section;
      break;
    case "opening.signed_in":
      s.signedIn.push(p.who);
      break;
    case "bid.status":
      s.bids[p.number] = { ...(s.bids[p.number] || { number: p.number }), ...p };
      break;
    case "opening.window_closed":
      s.windowClosed = true;
      break;
    case "opening.read_out":
      s.readOut = p.entries;
      for (const e of p.entries) s.bids[e.number] = { ...(s.bids[e.number] || {}), ...e };
      break;
    case "section.failed":
      for (const id of p.sections || []) {
        s.failed = s.failed.filter((/** @type {any} */ f) => f.section !== id);
        s.failed.push({ section: id, valid: (p.valid || {})[id] ?? 0, min: p.min_bids });
      }
      break;
    case "opening.objection":
      s.objections.push({ ...p });
      break;
    case "opening.answered": {
      const o = s.objections.find((x) => x.id === p.id);
      if (o) o.answer = p.text;
      break;
    }
    case "opening.confirmed":
      s.confirmed.push(p.org);
      break;
    case "opening.record_signed":
      s.recordSigned.push(p.role);
      break;
    case "opening.record":
      s.record = p;
      s.phase = p.stage === "technical" ? "technical_opened" : "opened";
      break;
  }
}

/**
 * Field labels of the bid forms of a stage, in the tender's own words.
 * @param {any} s @returns {{name: string, label: string}[]}
 */
export function formFields(s) {
  const forms = s.config?.forms || {};
  const fields = forms[s.stage] || Object.values(forms)[0] || [];
  return fields.map((/** @type {any} */ f) => ({ name: f.name, label: f.label || f.name }));
}

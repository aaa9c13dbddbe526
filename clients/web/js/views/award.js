/**
 * The award (定标, 评定分离) as published in the session's stream: `awardCard`, read-only, for
 * every page that follows a closed session (the method and its phase, the candidates, who of
 * the 定标委员会 signed in, the round being voted with its live tally where the viewer sees
 * every ballot (a supervisor), each round's tally, the finalists, the lot's seed commitment
 * and pick, the winner, the 公示 deadline in Beijing time with a countdown, the objections
 * with their answers, and the notice); and the award page itself (`mount`, #/award?session=…)
 * where a member of the 定标委员会 signs in, votes, gives an opinion, decides as the chair and
 * signs the 定标报告 — each signed action in the confirmation dialog that shows what is
 * signed, each button disabled where the phase or the member's part forbids it.
 * @module views/award
 */
import { t } from "../i18n.js";
import { awardWinner, emptySession, foldSession } from "../session.js";
import { act, beijing, CANCELLED, card, confirmAction, countdown, fill, h, table } from "../ui.js";
import { allow, facts, picker } from "./common.js";

/** A word of the award's vocabulary, the raw value when unknown. @param {string} prefix @param {any} value */
function word(prefix, value) {
  const key = `award.${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value ?? "—") : text;
}

/** "B01 acme" for a candidate's bid id. @param {any} a @param {string} bid */
function named(a, bid) {
  const c = (a.candidates || []).find((/** @type {any} */ x) => x.bid_id === bid);
  return c ? `${bid} ${c.company}` : bid;
}

/** A member by name: "马志远（m1）", the id alone when the name is not known. @param {any} a @param {string} user */
function person(a, user) {
  const name = a.names?.[user];
  return name ? `${name}（${user}）` : user;
}

/** @param {any} a @param {string[]} bids */
function list(a, bids) {
  return (bids || []).map((b) => named(a, b)).join("、") || "—";
}

/** @param {any} a */
function rounds(a) {
  if (!a.rounds.length) return null;
  return table([t("award.rounds"), t("award.candidates"), t("award.chosen"), t("award.tied")],
    a.rounds.map((/** @type {any} */ r) => ({
      attrs: { "data-round": r.round },
      cells: [t("award.round_n", { n: r.round }),
        Object.entries(r.counts || {}).map(([b, n]) => `${named(a, b)} ${n}`).join("、"),
        list(a, r.chosen), list(a, r.tied)],
    })), { class: "grid", id: "award-rounds" });
}

/** @param {any} a */
function objections(a) {
  if (!a.publicity) return null;
  return h("div", { id: "award-objections" }, h("h3", null, t("award.objections")),
    a.objections.length
      ? h("ul", { class: "objections" }, a.objections.map((/** @type {any} */ o) =>
        h("li", { "data-id": o.id, "data-answered": o.answer ? "1" : "" },
          h("strong", null, `${o.id} ${o.company}`), t("colon"), o.text,
          h("div", { class: o.answer ? "ok" : "hint" }, o.answer ? `${t("award.answer")}${t("colon")}${o.answer}` : t("award.unanswered")))))
      : h("p", { class: "hint" }, t("award.no_objections")));
}

/**
 * The award's progress card, or null before the award is set up.
 * @param {any} s folded session state (`s.award` from `foldAward`)
 */
export function awardCard(s) {
  const a = s.award;
  if (!a) return null;
  const members = a.members.length ? a.members : [];
  const signed = members.filter((/** @type {string} */ m) => a.signedIn[m]).length;
  const winner = awardWinner(a);
  const until = a.publicity?.until;
  return card(t("award.title"),
    facts([
      [t("award.method"), h("span", { id: "award-method" }, word("method", a.method?.kind))],
      [t("award.phase"), h("span", { id: "award-phase", "data-phase": a.phase }, word("phase", a.phase))],
      [t("award.candidates"), h("span", { id: "award-candidates" }, list(a, a.candidates.map((/** @type {any} */ c) => c.bid_id)))],
      members.length ? [t("award.committee"), h("span", { id: "award-committee" },
        `${members.map((/** @type {string} */ m) => person(a, m)).join("、")}（${t("award.chair")} ${a.chair ? person(a, a.chair) : "—"}；${t("award.signed_in")} ${signed}/${members.length}）`)] : null,
      a.seedCommitment ? [t("award.seed"), h("span", { class: "mono small", id: "award-seed" }, a.seedCommitment)] : null,
      a.voting ? [t("award.phase"), t("award.voting", { n: a.voting.round, seats: a.voting.seats })] : null,
      a.voting ? [t("awardjob.live"), liveTally(a)] : null,
      a.finalists.length ? [t("award.finalists"), h("span", { id: "award-finalists" }, list(a, a.finalists))] : null,
      a.lot ? [t("award.pick"), h("strong", { id: "award-pick" }, named(a, a.lot.pick))] : null,
      winner ? [t("award.winner"), h("strong", { id: "award-winner" }, `${winner.bid_id} ${winner.company}`,
        a.report?.basis ? `（${t("award.basis")}${t("colon")}${word("basis", a.report.basis)}）` : "")] : null,
      a.digest ? [t("award.digest"), h("span", { class: "mono small" }, a.digest)] : null,
      until ? [t("award.until"), h("span", { id: "award-until" }, beijing(until), " ",
        countdown(until, "award.publicity_over", { id: "award-countdown" }))] : null,
      a.notice ? [t("award.notice"), h("span", { id: "award-notice" }, beijing(a.notice.at))] : null,
    ]),
    rounds(a),
    objections(a));
}

// --- award (定标) jobs: the round being voted, live, and the members' page ---------------------

/**
 * The round being voted: how many voted, and, where the viewer holds every ballot cast so far
 * (a supervisor: ballots are secret to everyone else until the round closes), the count per
 * candidate.
 * @param {any} a
 */
function liveTally(a) {
  const round = a.voting.round;
  const step = a.progress[`round_${round}`] || { done: 0, of: a.members.length };
  const cast = Object.values(a.votes).map((/** @type {any} */ v) => v[round]).filter(Boolean);
  const counts = (a.voting.candidates || []).map((/** @type {string} */ b) =>
    h("span", { class: "tally", "data-bid": b }, `${named(a, b)} ${cast.filter((c) => c === b).length}`));
  return h("span", { id: "award-live", "data-done": step.done },
    t("awardjob.voted", { done: step.done, of: step.of }),
    cast.length === step.done && step.done > 0 ? ["（", ...counts.flatMap((c, i) => (i ? ["、", c] : [c])), "）"] : null);
}

/**
 * A select of candidates that keeps its choice across re-renders.
 * @param {HTMLSelectElement} select @param {any} a @param {string[]} bids
 */
function options(select, a, bids) {
  const key = bids.join(",");
  if (select.dataset.key === key) return;
  const chosen = select.value;
  select.dataset.key = key;
  fill(select, ...bids.map((b) => h("option", { value: b }, named(a, b))));
  if (bids.includes(chosen)) select.value = chosen;
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const me = conn.user;
  const id = ctx.params.get("session") || "";
  const main = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("awardjob.title"))),
    h("div", { class: "cols" }, h("aside", { class: "side" }, card(t("field.session"), picker("award", "session", t("field.session"), id))), main));
  if (!id) return;
  const stream = `session:${id}`;
  const s = emptySession();
  const button = (/** @type {string} */ bid, /** @type {string} */ text) =>
    /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: bid }, text));
  const select = (/** @type {string} */ sid) =>
    /** @type {HTMLSelectElement} */ (h("select", { id: sid, "aria-label": t("awardjob.candidate") }));
  const input = (/** @type {string} */ iid, /** @type {string} */ label) =>
    /** @type {HTMLInputElement} */ (h("input", { id: iid, placeholder: label, "aria-label": label }));
  const signInBtn = button("award-sign-in", t("awardjob.sign_in"));
  const voteSel = select("award-vote-candidate");
  const voteBtn = button("award-vote", t("awardjob.vote"));
  const opinionSel = select("award-opinion-candidate");
  const opinionText = input("award-opinion-text", t("awardjob.opinion_text"));
  const opinionBtn = button("award-opinion", t("awardjob.opinion"));
  const decideSel = select("award-decide-candidate");
  const reasons = input("award-reasons", t("awardjob.reasons"));
  const decideBtn = button("award-decide", t("awardjob.decide"));
  const dissent = input("award-dissent", t("awardjob.dissent"));
  const signBtn = button("award-sign-report", t("awardjob.sign_report"));

  /**
   * Confirm what is signed, then send it signed.
   * @param {HTMLButtonElement} btn @param {string} type @param {any} body @param {string} title
   * @param {string} lead @param {[string, any][]} items
   */
  const signed = (btn, type, body, title, lead, items) => act(btn, async () => {
    if (!(await confirmAction({ title, lead, items: [[t("field.session"), id], ...items],
      details: { stream, type, body } }))) return CANCELLED;
    return conn.command(stream, type, body, { sign: true });
  });
  signInBtn.onclick = () => signed(signInBtn, "award.sign_in", {}, t("awardjob.sign_in"),
    t("awardjob.confirm_sign_in"), [[t("awardjob.member"), s.award ? person(s.award, me) : me]]);
  voteBtn.onclick = () => {
    const a = s.award;
    const body = { round: a.voting.round, candidate: voteSel.value };
    signed(voteBtn, "award.vote", body, t("awardjob.vote"), t("awardjob.confirm_vote"),
      [[t("awardjob.round"), t("award.round_n", { n: body.round })], [t("awardjob.candidate"), named(a, body.candidate)]]);
  };
  opinionBtn.onclick = () => {
    const body = { candidate: opinionSel.value, opinion: opinionText.value.trim() };
    if (!body.opinion) return opinionText.focus();
    signed(opinionBtn, "award.opinion", body, t("awardjob.opinion"), t("awardjob.confirm_opinion"),
      [[t("awardjob.candidate"), named(s.award, body.candidate)], [t("awardjob.opinion_text"), body.opinion]]);
  };
  decideBtn.onclick = () => {
    const body = { candidate: decideSel.value, reasons: reasons.value.trim() };
    if (!body.reasons) return reasons.focus();
    signed(decideBtn, "award.decide", body, t("awardjob.decide"), t("awardjob.confirm_decide"),
      [[t("awardjob.candidate"), named(s.award, body.candidate)], [t("awardjob.reasons"), body.reasons]]);
  };
  signBtn.onclick = () => {
    const a = s.award;
    /** @type {any} */ const body = { award_digest: a.digest };
    if (dissent.value.trim()) body.dissent = dissent.value.trim();
    const winner = awardWinner(a);
    signed(signBtn, "award.sign_report", body, t("awardjob.sign_report"), t("awardjob.confirm_sign"),
      [[t("award.winner"), winner ? `${winner.bid_id} ${winner.company}` : "—"], [t("award.digest"), a.digest],
        [t("awardjob.dissent"), body.dissent || "—"]]);
  };

  function actions() {
    const a = s.award;
    const member = a.members.includes(me);
    const why = member ? t("awardjob.why_phase") : t("awardjob.why_not_member");
    const done = t("awardjob.why_done");
    const signedIn = Boolean(a.signedIn[me]);
    allow(signInBtn, member && a.phase === "sign_in" && !signedIn, signedIn ? done : why);
    const round = a.voting?.round;
    const voted = round !== undefined && Boolean(a.votes[me]?.[round]);
    options(voteSel, a, a.voting?.candidates || []);
    allow(voteBtn, member && a.phase === "voting" && Boolean(a.voting) && !voted, voted ? done : why);
    const ids = a.candidates.map((/** @type {any} */ c) => c.bid_id);
    options(opinionSel, a, ids);
    options(decideSel, a, ids);
    const gave = Boolean(a.opinions[me]);
    allow(opinionBtn, member && a.phase === "deliberation" && !gave, gave ? done : why);
    const chair = a.chair === me;
    const missing = a.members.some((/** @type {string} */ m) => !a.opinions[m]);
    allow(decideBtn, chair && a.phase === "deliberation" && !missing && !a.decision,
      !chair ? t("awardjob.why_chair") : missing ? t("awardjob.why_opinions") : why);
    const sig = me in a.signatures;
    allow(signBtn, member && a.phase === "signing" && Boolean(a.digest) && !sig, sig ? done : why);
    const mine = round !== undefined ? a.votes[me]?.[round] : null;
    const deliberation = a.method?.kind === "deliberation";
    return card(t("awardjob.actions"),
      h("p", { class: "hint", id: "award-me" }, member
        ? `${t("awardjob.member")} ${person(a, me)}${a.chair === me ? ` · ${t("award.chair")}` : ""}`
        : t("awardjob.why_not_member")),
      h("div", { class: "actions" }, signInBtn,
        signedIn ? h("span", { class: "ok", id: "award-signed-in" }, t("awardjob.signed_in")) : null),
      deliberation ? null : h("div", { class: "actions" }, voteSel, voteBtn,
        mine ? h("span", { class: "ok", id: "award-my-vote" }, `${t("awardjob.your_vote")}${t("colon")}${named(a, mine)}`) : null),
      deliberation ? h("div", { class: "actions" }, opinionSel, opinionText, opinionBtn) : null,
      deliberation && chair ? h("div", { class: "actions" }, decideSel, reasons, decideBtn) : null,
      h("div", { class: "actions" }, dissent, signBtn,
        sig ? h("span", { class: "ok", id: "award-report-signed" }, t("awardjob.report_signed")) : null));
  }

  function render() {
    if (!s.award) {
      fill(main, card(t("awardjob.title"), h("p", { class: "hint", id: "award-none" }, t("awardjob.none"))));
      return;
    }
    fill(main, awardCard(s), actions());
  }
  render();
  ctx.follow(stream, (ev) => { foldSession(s, ev, me); render(); });
}

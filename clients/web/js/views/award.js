/**
 * The award (定标, 评定分离) as published in the session's stream, read-only: the method and
 * its phase, the candidates, who of the 定标委员会 signed in, each round's tally, the finalists,
 * the lot's seed commitment and pick, the winner, the 公示 deadline in Beijing time with a
 * countdown, the objections with their answers, and the notice. Commands are not sent here.
 * @module views/award
 */
import { t } from "../i18n.js";
import { awardWinner } from "../session.js";
import { beijing, card, countdown, h, table } from "../ui.js";
import { facts } from "./common.js";

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
        `${members.join("、")}（${t("award.chair")} ${a.chair || "—"}；${t("award.signed_in")} ${signed}/${members.length}）`)] : null,
      a.seedCommitment ? [t("award.seed"), h("span", { class: "mono small", id: "award-seed" }, a.seedCommitment)] : null,
      a.voting ? [t("award.phase"), t("award.voting", { n: a.voting.round, seats: a.voting.seats })] : null,
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

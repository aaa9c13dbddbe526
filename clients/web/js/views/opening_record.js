/**
 * The opening record as a signer sees it (开标记录签署): the live bid status, the read-out and
 * 流标 if any, and the signature the record needs from the role viewing it. The agency's page
 * runs the ceremony; the supervisor follows it here and signs the record it saw read out.
 * @module views/opening_record
 */
import { t } from "../i18n.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, beijing, CANCELLED, confirmAction, card, fill, h } from "../ui.js";
import { allow, facts, failureBanner, phasePill, readOutTable, roleName, statusTable } from "./common.js";

/**
 * Sign the opening record as `role`, after a dialog listing every bid read out.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {any} s folded tender
 * @param {string} role "agency" | "supervisor" @param {string} id the button's id
 */
export function signRecordButton(ctx, tender, s, role, id = "sign-btn") {
  const stream = `tender:${tender}`;
  const label = t("agency.sign_record");
  const b = /** @type {HTMLButtonElement} */ (h("button", { id, class: "primary", type: "button" }, label));
  b.onclick = () => act(b, async () => {
    const record = s.readOut || [];
    if (!(await confirmAction({
      title: label,
      items: [
        [t("confirm.stream"), s.title || tender],
        [t("confirm.record"), t("confirm.bids_n", { n: record.length })],
        ...record.map((/** @type {any} */ e) => /** @type {[string, any]} */ ([e.number, e.org || "—"])),
      ],
      details: { stream, type: "opening.sign_record", record },
    }))) return CANCELLED;
    return ctx.conn.command(stream, "opening.sign_record", {}, { sign: true });
  });
  const signed = s.recordSigned.includes(role);
  allow(b, s.phase === "opening" && !!s.stage && !!s.readOut && !signed, signed ? t("why.done") : t("why.phase"));
  return b;
}

/**
 * The tender's opening, followed live, with the supervisor's signature.
 * @param {HTMLElement} body @param {import("../app.js").ViewContext} ctx @param {string} tender
 */
export function mountOpeningRecord(body, ctx, tender) {
  const stream = `tender:${tender}`;
  const s = emptyTender();
  function render() {
    fill(body,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, s.title || tender, h("small", { class: "mono" }, ` ${tender}`)), phasePill(s.phase)),
      facts([
        [t("bidder.opening_at"), s.config ? beijing(s.config.opening_at) : "—"],
        [t("agency.record_signed"), s.recordSigned.map((/** @type {string} */ r) => roleName(r)).join(t("list_sep")) || "—"],
      ]),
      failureBanner(s),
      card(t("sup.opening"), s.stage ? statusTable(s) : h("p", { class: "hint" }, t("sup.opening_wait")),
        h("div", { class: "steps" }, signRecordButton(ctx, tender, s, "supervisor", "sup-sign-btn"))),
      s.readOut ? card(t("bidder.readout"), readOutTable(s)) : null);
  }
  ctx.follow(stream, (ev) => { foldTender(s, ev); render(); });
  render();
}

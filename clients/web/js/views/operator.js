/**
 * Site operator (场地管理员): the venue's roster and checking each expert in with the code
 * the expert's own key signed (`evalroom-checkin:<base64url JSON {expert, seat, sig}>`), as
 * the expert's page shows it (copied, or read off its QR image by a scanner that types it in).
 * The check-in is confirmed in a dialog naming the expert and the seat.
 * @module views/operator
 */
import { t } from "../i18n.js";
import { unb64u } from "../keys.js";
import { emptySession, foldSession } from "../session.js";
import { act, CANCELLED, card, clock, confirmAction, fill, h, table } from "../ui.js";
import { allow, phasePill, picker } from "./common.js";

/** @param {string} text @returns {{expert: string, seat: string, sig: string}} */
export function parseToken(text) {
  const raw = text.trim().replace(/^evalroom-checkin:/, "");
  const data = JSON.parse(new TextDecoder().decode(unb64u(raw)));
  if (!data.expert || !data.seat || !data.sig) throw new Error("not a check-in token");
  return data;
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const id = ctx.params.get("session") || "";
  const body = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("op.title"))),
    h("div", { class: "cols" }, h("aside", { class: "side" }, card(t("field.session"), picker("operator", "session", t("field.session"), id))), body));
  if (!id) return;
  const stream = `session:${id}`;
  const s = emptySession();
  const token = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "checkin-token", rows: 3, placeholder: "evalroom-checkin:…", "aria-label": t("op.token") }));
  const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "checkin-btn" }, t("op.checkin")));
  btn.onclick = () => act(btn, async () => {
    /** @type {{expert: string, seat: string, sig: string}} */ let tok;
    try {
      tok = parseToken(token.value);
    } catch {
      token.classList.add("invalid");
      token.focus();
      throw Object.assign(new Error(t("op.code_unreadable")), { code: "invalid" });
    }
    token.classList.remove("invalid");
    const member = Object.values(s.rosters).flat().find((/** @type {any} */ m) => m.expert === tok.expert);
    if (!member) throw Object.assign(new Error(t("op.not_here")), { code: "not_in_committee" });
    const body = { expert: tok.expert, seat: tok.seat, expert_signature: tok.sig };
    if (!(await confirmAction({ title: t("op.checkin"), signed: false, lead: t("op.confirm_lead"), okText: t("op.checkin"),
      items: [[t("field.session"), id], [t("sup.expert"), member.name || tok.expert], [t("op.specialty"), member.specialty || "—"],
        [t("expert.venue"), s.venues[member.venue]?.name || member.venue], [t("expert.seat"), tok.seat]],
      details: { stream, type: "session.check_in", body } }))) return CANCELLED;
    await conn.command(stream, "session.check_in", body);
    token.value = "";
  });
  function render() {
    allow(btn, s.phase === "check_in", t("why.phase"));
    const roster = Object.values(s.rosters).flat();
    fill(body,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, t("field.session"), " ", id), phasePill(s.phase)),
      card(t("op.roster"), table([t("sup.expert"), t("op.specialty"), t("expert.venue"), t("col.status"), t("expert.seat"), t("col.time")], roster.map((/** @type {any} */ m) => {
        const c = s.checkedIn[m.expert];
        return { attrs: { "data-expert": m.expert }, cells: [m.name || m.expert, m.specialty, s.venues[m.venue]?.name || m.venue,
          c ? h("span", { class: "badge s-decrypted" }, t("op.done")) : h("span", { class: "badge s-waiting" }, t("op.pending")),
          c ? c.seat : "—", c ? clock(c.at || "") : "—"] };
      }), { class: "grid", id: "roster" })),
      card(t("op.token"), token, h("div", { class: "toolbar" }, btn)));
  }
  ctx.follow(stream, (ev) => { foldSession(s, ev, conn.user); render(); });
  render();
}

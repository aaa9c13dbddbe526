/**
 * Keyholder page (开标密钥保管人): the tenders whose opening key the user holds a share of,
 * the live opening, and, when bids await the committee fallback, handing in the share file
 * (`share-N.txt`, as `evalroom-agency opening-key` writes it) as the signed `opening.share`,
 * like `evalroom-keyholder submit`. The share is read from the file in the page and leaves it
 * only in that command.
 * @module views/keyholder
 */
import { phaseName, t } from "../i18n.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, beijing, CANCELLED, card, confirmAction, fill, h, readPicked } from "../ui.js";
import { inspectShare } from "../shamir.js";
import { allow, envelopeName, facts, failureBanner, listTenders, phasePill, picker, remaining, statusTable } from "./common.js";

const RESOLVED = new Set(["decrypted", "rejected"]);

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const tender = ctx.params.get("tender") || "";
  const list = h("div", { id: "tender-list" });
  let alive = true;
  ctx.offs.push(() => { alive = false; });

  async function refresh() {
    let rows;
    try {
      rows = (await listTenders(conn)).filter((r) => r.roles.includes("keyholder"));
    } catch {
      return;
    }
    if (!alive) return;
    fill(list, rows.length
      ? h("ul", { class: "tender-list" }, rows.map((r) =>
        h("li", { class: r.tender === tender ? "active" : "", "data-tender": r.tender },
          h("a", { href: `#/keyholder?tender=${encodeURIComponent(r.tender)}` },
            h("span", { class: "t-title" }, r.title || r.tender), h("small", { class: "mono" }, r.tender)),
          h("div", { class: "t-meta" },
            h("span", { class: `phase p-${r.phase || "none"}` }, r.phase ? phaseName(r.phase) : "—"),
            h("span", { class: "t-opening" }, r.opening_at ? beijing(r.opening_at) : "—")))))
      : h("p", { class: "hint" }, t("kh.none")));
  }
  const side = h("aside", { class: "side" },
    card(t("kh.tenders"), picker("keyholder", "tender", t("field.tender"), tender), list));
  const body = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("kh.title"))), h("div", { class: "cols" }, side, body));
  refresh();
  if (!tender) return;

  const stream = `tender:${tender}`;
  const s = emptyTender();
  // What the keyholder needs beyond the shared fold: the fallback of the running stage.
  const kh = { fallback: /** @type {string[]} */ ([]), k: 0, count: 0, mine: false, lastPhase: "" };
  /** @type {Awaited<ReturnType<typeof inspectShare>>} */ let picked = null;
  const shareInput = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "share-file", accept: ".txt,text/plain" }));
  const shareInfo = h("span", { class: "hint", id: "share-info" });
  shareInput.onchange = async () => {
    picked = null;
    shareInput.removeAttribute("aria-invalid");
    fill(shareInfo);
    try {
      picked = await shareFrom();
      fill(shareInfo, t("kh.share_info", { index: picked.index, n: picked.n, k: picked.k, set: picked.set }));
    } catch (err) {
      shareInput.setAttribute("aria-invalid", "true");
      fill(shareInfo, h("span", { class: "error" }, /** @type {Error} */ (err).message));
    }
  };
  const submitBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "share-btn" }, t("kh.submit_btn")));
  submitBtn.onclick = () => act(submitBtn, async () => {
    const share = picked ?? (await shareFrom());
    const threshold = s.config?.threshold || {};
    if (!(await confirmAction({
      title: t("kh.confirm_title"),
      lead: t("kh.confirm_lead", { k: share.k }),
      items: [
        [t("confirm.stream"), s.title || tender],
        [t("kh.stage"), envelopeName(s.stage)],
        [t("kh.fallback"), pending().join("、") || "—"],
        [t("kh.share_label"), t("kh.share_info", { index: share.index, n: share.n, k: share.k, set: share.set })],
        [t("kh.threshold"), t("kh.threshold_value", { k: threshold.k ?? share.k, n: threshold.n ?? share.n })],
      ],
      // Exactly what is signed and sent: the share is the command's body.
      details: { stream, type: "opening.share", body: { share: share.share } },
    }))) return CANCELLED;
    await conn.command(stream, "opening.share", { share: share.share }, { sign: true });
    shareInput.value = "";
    picked = null;
    fill(shareInfo);
  }, t("kh.submitted"));

  /** The chosen share file's share, checked against this tender's threshold. */
  async function shareFrom() {
    if (!shareInput.files?.length) {
      shareInput.focus();
      throw Object.assign(new Error(t("kh.pick_share")), { code: "no_file" });
    }
    const info = await inspectShare(await readPicked(shareInput));
    if (!info) throw Object.assign(new Error(t("kh.share_malformed")), { code: "bad_share" });
    const th = s.config?.threshold;
    if (th && (th.k !== info.k || th.n !== info.n)) {
      throw Object.assign(new Error(t("kh.share_other_set", { k: info.k, n: info.n, tk: th.k, tn: th.n })), { code: "bad_share" });
    }
    return info;
  }

  /** The fallback's bids still unopened. */
  function pending() {
    return kh.fallback.filter((n) => !RESOLVED.has(s.bids[n]?.status));
  }

  const live = h("div");
  fill(body, live);
  const countdown = h("span", { class: "mono", id: "countdown" }, "—");
  function tick() {
    countdown.textContent = s.windowEnds && !s.windowClosed ? remaining(s.windowEnds) : "—";
  }
  function render() {
    tick();
    const waiting = pending();
    const open = s.phase === "opening" && waiting.length > 0;
    allow(submitBtn, open && !kh.mine, kh.mine ? t("kh.you_submitted") : t("kh.why_no_fallback"));
    const th = s.config?.threshold || {};
    fill(live,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, s.title || tender, h("small", { class: "mono" }, ` ${tender}`)), phasePill(s.phase)),
      facts([
        [t("field.tender"), tender],
        [t("bidder.opening_at"), s.config ? h("span", { id: "opening-at" }, beijing(s.config.opening_at)) : "—"],
        [t("kh.stage"), s.stage ? envelopeName(s.stage) : "—"],
        [t("kh.threshold"), th.k ? t("kh.threshold_value", { k: th.k, n: th.n }) : "—"],
        [t("bidder.window_left"), countdown],
      ]),
      failureBanner(s),
      h("p", { class: "hint" }, t("kh.lead", { k: th.k ?? "k", n: th.n ?? "n" })),
      card(t("kh.fallback"),
        open
          ? h("div", { class: "notice", id: "fallback", role: "alert" },
            h("p", null, t("kh.fallback_bids", { numbers: waiting.join("、") })),
            h("p", { id: "shares-received" }, t("kh.received", { count: kh.count, k: kh.k || th.k })))
          : h("p", { class: "hint", id: "no-fallback" }, t("kh.no_fallback"),
            kh.count ? h("span", { id: "shares-received" }, " ", t("kh.received", { count: kh.count, k: kh.k || th.k })) : null),
        kh.mine ? h("p", { class: "ok", id: "share-submitted" }, "✔ " + t("kh.you_submitted")) : null,
        h("div", { class: "toolbar" }, h("label", { class: "file" }, t("kh.share_file"), shareInput), submitBtn),
        shareInfo),
      s.stage ? card(t("bidder.opening"), statusTable(s)) : null);
  }
  ctx.follow(stream, (ev) => {
    foldTender(s, ev);
    const p = ev.payload || {};
    if (ev.type === "opening.started") Object.assign(kh, { fallback: [], k: 0, count: 0, mine: false });
    else if (ev.type === "opening.fallback") Object.assign(kh, { fallback: p.numbers || [], k: p.k || 0 });
    else if (ev.type === "opening.share_received") {
      kh.count = p.count || kh.count + 1;
      if (p.keyholder === conn.user) kh.mine = true;
    }
    render();
    if (s.phase !== kh.lastPhase) {
      kh.lastPhase = s.phase;
      refresh();
    }
  });
  ctx.on("error", (/** @type {any} */ e) => {
    if (e.stream === stream) fill(shareInfo, h("span", { class: "error" }, t("error", { message: e.message, code: e.code })));
  });
  const timer = setInterval(tick, 1000);
  ctx.offs.push(() => clearInterval(timer));
  render();
}

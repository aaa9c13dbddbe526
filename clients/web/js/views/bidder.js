/**
 * Bidder portal (投标人): my tenders, the live opening (sign in, release the per-bid key,
 * status, read-out, confirm or object) and uploading a sealed bid with its signed receipt.
 * @module views/bidder
 */
import { t } from "../i18n.js";
import { verifyJson } from "../keys.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, card, fill, h, readPicked, toast } from "../ui.js";
import { facts, phasePill, picker, readOutTable, remaining, statusTable } from "./common.js";

/** @param {string} user */
function recentKey(user) {
  return `evalroom.tenders.${user}`;
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const tender = ctx.params.get("tender") || "";
  const recent = JSON.parse(localStorage.getItem(recentKey(conn.user)) || "[]");
  if (tender && !recent.includes(tender)) {
    recent.unshift(tender);
    localStorage.setItem(recentKey(conn.user), JSON.stringify(recent.slice(0, 12)));
  }
  const joinBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "link", type: "button" }, t("bidder.join")));
  joinBtn.onclick = () => {
    const id = /** @type {HTMLInputElement} */ (root.querySelector("#pick-tender")).value.trim();
    if (!id) return;
    act(joinBtn, () => conn.command(`tender:${id}`, "tender.join")).then(() => {
      location.hash = `#/bidder?tender=${encodeURIComponent(id)}`;
    });
  };
  const side = h("aside", { class: "side" },
    card(t("bidder.tenders"),
      picker("bidder", "tender", t("field.tender"), tender), joinBtn,
      h("ul", { class: "tender-list" }, recent.map((/** @type {string} */ id) =>
        h("li", { class: id === tender ? "active" : "" }, h("a", { href: `#/bidder?tender=${encodeURIComponent(id)}` }, id))))));
  const body = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("bidder.title"))), h("div", { class: "cols" }, side, body));
  if (!tender) return;

  const stream = `tender:${tender}`;
  const s = emptyTender();
  /** @type {any} */ let bidKeys = null;
  /** @type {any} */ let lastReceipt = null;
  const keysInput = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "bid-keys-file", accept: ".json" }));
  keysInput.onchange = async () => {
    try {
      bidKeys = JSON.parse(await readPicked(keysInput));
      if (bidKeys.format !== "evalroom-bid-keys/1") throw new Error("not an evalroom-bid-keys/1 file");
    } catch (err) {
      bidKeys = null;
      toast(String(/** @type {Error} */ (err).message), "error");
    }
  };
  const releaseBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", id: "release-btn", type: "button" }, t("bidder.release")));
  releaseBtn.onclick = () => act(releaseBtn, () => release());
  const objection = /** @type {HTMLInputElement} */ (h("input", { id: "objection-text", placeholder: t("bidder.objection") }));
  const confirmBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", id: "confirm-btn", type: "button" }, t("bidder.confirm")));
  confirmBtn.onclick = () => act(confirmBtn, () => conn.command(stream, "opening.confirm", {}, { sign: true }));
  const objectBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", id: "object-btn", type: "button" }, t("bidder.object")));
  objectBtn.onclick = () => act(objectBtn, () => conn.command(stream, "opening.object", { text: objection.value.trim() }));

  const upload = uploadCard(ctx, tender, s, (/** @type {any} */ r) => { lastReceipt = r; render(); });
  const live = h("div");
  fill(body, live, upload.el);

  async function release() {
    const org = conn.profile?.org;
    if (!s.signedIn.includes(org)) await conn.command(stream, "opening.sign_in", {}, { sign: true });
    if (!bidKeys) throw Object.assign(new Error(t("bidder.keys")), { code: "no_file" });
    for (const [number, section] of Object.entries(s.mine)) {
      const status = s.bids[number]?.status;
      if (status === "decrypted" || status === "rejected") continue;
      const entry = (bidKeys.bids || []).filter((/** @type {any} */ b) =>
        b.tender === tender && b.section === section && b.envelope === s.stage).pop();
      if (!entry) throw Object.assign(new Error(t("bidder.no_key", { section, envelope: s.stage })), { code: "no_key" });
      if (status !== "decrypting") await conn.command(stream, "bid.decrypting", { section });
      await conn.command(stream, "bid.release_key", { section, identity: entry.identity });
    }
  }

  const countdown = h("span", { class: "mono", id: "countdown" }, "—");
  function tick() {
    countdown.textContent = s.windowEnds && !s.windowClosed ? remaining(s.windowEnds) : "—";
  }

  function render() {
    tick();
    const org = conn.profile?.org;
    const signed = s.signedIn.includes(org);
    fill(live,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, s.title || tender, h("small", { class: "mono" }, ` ${tender}`)), phasePill(s.phase)),
      facts([
        [t("field.tender"), tender],
        ["开标时间", s.config ? new Date(s.config.opening_at).toLocaleString("zh-CN", { hour12: false }) : "—"],
        ["解密剩余", countdown],
        [t("bidder.signin"), signed ? h("span", { class: "ok", id: "signed-in" }, t("bidder.signedin")) : "—"],
      ]),
      s.notices.length ? h("div", { class: "notice" }, s.notices[s.notices.length - 1]) : null,
      s.stage ? card(t("bidder.opening"),
        h("div", { class: "toolbar" }, h("label", { class: "file" }, t("bidder.keys"), keysInput), releaseBtn),
        statusTable(s, { mine: true })) : null,
      s.readOut ? card(t("bidder.readout"), readOutTable(s),
        h("div", { class: "toolbar" }, objection, objectBtn, confirmBtn,
          s.confirmed.includes(org) ? h("span", { class: "ok", id: "confirmed" }, "已确认") : null),
        s.objections.length ? h("ul", { class: "objections" }, s.objections.map((/** @type {any} */ o) =>
          h("li", null, h("strong", null, o.org, "："), o.text, o.answer ? h("div", { class: "answer" }, "答复：", o.answer) : null))) : null) : null,
      lastReceipt ? receiptView(lastReceipt) : null,
    );
  }
  ctx.follow(stream, (ev) => { foldTender(s, ev); render(); upload.update(); });
  ctx.on("error", (/** @type {any} */ e) => {
    if (e.stream === stream) toast(t("error", { message: e.message, code: e.code }), "error");
  });
  const timer = setInterval(tick, 1000);
  ctx.offs.push(() => clearInterval(timer));
  render();
}

/** The signed receipt (回执), checked here with the platform key. @param {any} r */
function receiptView(r) {
  const rc = r.receipt;
  return card(t("bidder.receipt"),
    h("p", { class: r.verified ? "ok" : "error", id: "receipt-verdict" }, r.verified ? "✔ " + t("bidder.receipt_ok") : "✘ " + t("bidder.receipt_bad")),
    facts([["类型", rc.kind], ["流水号", `${rc.stream} #${rc.seq}`], ["时间", rc.at], ["大小", `${rc.size ?? "—"} 字节`],
      ["SHA-256", h("span", { class: "mono small" }, rc.sha256 || "—")]]),
    h("p", { class: "mono small" }, "签名 ", r.sig));
}

/**
 * Upload a sealed envelope with progress; verify the receipt's platform signature.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {any} s
 * @param {(r: any) => void} onReceipt
 */
function uploadCard(ctx, tender, s, onReceipt) {
  const section = /** @type {HTMLSelectElement} */ (h("select", { id: "up-section" }));
  const envelope = /** @type {HTMLSelectElement} */ (h("select", { id: "up-envelope" }));
  const file = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "up-file", accept: ".age" }));
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: 100, value: 0, id: "up-progress" }));
  const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "up-btn" }, t("bidder.upload")));
  btn.onclick = () => act(btn, async () => {
    const f = file.files?.[0];
    if (!f) throw Object.assign(new Error("no file"), { code: "no_file" });
    const token = await ctx.conn.ensureToken();
    const url = `/api/tenders/${encodeURIComponent(tender)}/bids/${encodeURIComponent(section.value)}/${encodeURIComponent(envelope.value)}`;
    const ack = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("authorization", `Bearer ${token}`);
      xhr.setRequestHeader("content-type", "application/octet-stream");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
      xhr.onload = () => {
        const data = JSON.parse(xhr.responseText || "{}");
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(Object.assign(new Error(data.message || xhr.statusText), { code: data.code }));
      };
      xhr.onerror = () => reject(Object.assign(new Error("network"), { code: "network" }));
      xhr.send(f);
    });
    const reply = /** @type {any} */ (ack).reply;
    const keys = await (await fetch("/api/log/keys")).json();
    const verified = reply.platform_key === keys.platform_key && (await verifyJson(keys.platform_key, reply.sig, reply.receipt));
    onReceipt({ ...reply, verified });
  });
  const el = card(t("bidder.upload"),
    h("div", { class: "toolbar" }, h("label", null, t("col.section"), section), h("label", null, t("bidder.envelope"), envelope),
      h("label", { class: "file" }, "密封文件 (.age)", file), btn), bar);
  function update() {
    const sections = s.config?.sections || [];
    if (section.options.length !== sections.length) {
      fill(section, sections.map((/** @type {any} */ x) => h("option", { value: x.id }, `${x.id} ${x.name}`)));
      fill(envelope, (s.config?.envelopes || []).map((/** @type {string} */ e) => h("option", { value: e }, e)));
    }
    el.hidden = s.phase !== "bidding";
  }
  update();
  return { el, update };
}

/**
 * The browser client's shell: login with the participant's key, the connection banner,
 * and one view per role chosen by the URL hash (#/bidder?tender=T1 …).
 * @module app
 */
import { Connection } from "./connection.js";
import { lang, setLang, t } from "./i18n.js";
import { forgetKey, importKeyFile, loadKey, saveKey } from "./keys.js";
import { act, fill, h, readPicked, toast } from "./ui.js";

const VIEWS = ["bidder", "agency", "expert", "supervisor", "operator", "keyholder", "pool"];
/** Which roles (as the server grants them) open which page. */
const VIEW_ROLES = /** @type {Record<string, string[]>} */ ({
  bidder: ["bidder"],
  agency: ["agency", "tenderer", "authority", "admin"], // appointers: supervisors, site operators
  expert: ["expert", "chair"],
  supervisor: ["supervisor"],
  operator: ["operator"],
  keyholder: ["keyholder"],
  pool: ["admin", "supervisor"],
});
/** @type {Set<string>|null} the pages this user may open (null: not known, all are shown) */
let allowed = null;

/** @typedef {import("./connection.js").EvEvent} EvEvent */

/**
 * What a view gets: the connection, the route's parameters, and `follow(stream, fn)`, which
 * replays what this page already received of the stream and then calls `fn` live.
 */
export class ViewContext {
  /** @param {Connection} conn @param {URLSearchParams} params */
  constructor(conn, params) {
    this.conn = conn;
    this.params = params;
    /** @type {Function[]} */ this.offs = [];
  }

  /** @param {string} stream @param {(ev: EvEvent) => void} fn */
  follow(stream, fn) {
    for (const ev of log.get(stream) || []) fn(ev);
    this.offs.push(
      this.conn.on("event", (/** @type {EvEvent} */ ev) => ev.stream === stream && fn(ev)),
    );
    this.conn.subscribe(stream);
  }

  /** @param {string} name @param {Function} fn */
  on(name, fn) {
    this.offs.push(this.conn.on(name, fn));
  }

  dispose() {
    for (const off of this.offs) off();
  }
}

/** @type {Map<string, EvEvent[]>} every event received, per stream (for re-mounted views) */
const log = new Map();
/** @type {Connection|null} */ let conn = null;
/** @type {ViewContext|null} */ let current = null;

function header() {
  document.documentElement.lang = lang;
  document.title = t("brand");
  fill(document.getElementById("brand-name"), t("brand"));
  fill(document.getElementById("brand-tag"), t("tagline"));
  const langBtn = /** @type {HTMLButtonElement} */ (document.getElementById("lang-btn"));
  langBtn.textContent = lang === "zh-CN" ? "English" : "中文";
  langBtn.onclick = () => setLang(lang === "zh-CN" ? "en" : "zh-CN");
}

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const first = VIEWS.find((v) => !allowed || allowed.has(v)) || "bidder";
  const view = VIEWS.includes(path) ? path : first;
  return { view, params: new URLSearchParams(query || "") };
}

/**
 * The pages of the roles the user holds, from `GET /api/me`. A company user holding no role
 * yet sees the bidder page, where it joins a tender. If the server cannot say, every page is
 * shown (the server still refuses what the user may not do).
 * @param {Connection} c
 */
async function loadRoles(c) {
  try {
    const r = await fetch("/api/me", { headers: { authorization: `Bearer ${await c.ensureToken()}` } });
    if (!r.ok) return null;
    const me = await r.json();
    const held = new Set((me.roles || []).map((/** @type {any} */ x) => x.role));
    const views = new Set(VIEWS.filter((v) => VIEW_ROLES[v].some((role) => held.has(role))));
    if (me.org && held.size === 0) views.add("bidder");
    return views;
  } catch {
    return null;
  }
}

/** What a page opened without its role shows: that, and nothing of the role's data. */
function noRole() {
  return h("section", { class: "card no-role", id: "no-role", role: "alert" },
    h("h2", null, t("norole.title")), h("p", null, t("norole.text")),
    allowed && allowed.size
      ? h("p", null, t("norole.yours"), " ",
        [...allowed].map((v) => h("a", { href: `#/${v}`, class: "role-link" }, t(`nav.${v}`))))
      : h("p", { class: "hint" }, t("norole.none")));
}

async function showView() {
  if (!conn) return;
  const { view, params } = route();
  fill(
    document.getElementById("nav"),
    VIEWS.filter((v) => !allowed || allowed.has(v)).map((v) =>
      h("a", { href: `#/${v}`, class: v === view ? "active" : "", id: `nav-${v}`,
        "aria-current": v === view ? "page" : null }, t(`nav.${v}`)),
    ),
  );
  current?.dispose();
  const context = (current = new ViewContext(conn, params));
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  main.className = `view-${view}`;
  fill(main);
  if (allowed && !allowed.has(view)) {
    fill(main, noRole());
    return;
  }
  const mod = await import(`./views/${view}.js`);
  // The route may have changed while the view's module loaded (a link followed at once):
  // a page left behind must not mount over the one now shown.
  if (context !== current) return;
  mod.mount(main, context);
}

/** @param {string} state */
function showConnState(state) {
  const banner = /** @type {HTMLElement} */ (document.getElementById("banner"));
  const dot = /** @type {HTMLElement} */ (document.getElementById("conn-dot"));
  dot.className = `dot ${state}`;
  dot.title = t(`conn.${state}`);
  if (state === "offline" || state === "reconnected") {
    banner.hidden = false;
    banner.className = state;
    banner.textContent = t(`conn.${state}`);
    banner.dataset.state = state;
    clearTimeout(Number(banner.dataset.timer));
    if (state === "reconnected") {
      banner.dataset.timer = String(setTimeout(() => (banner.hidden = true), 10000));
    }
  }
}

/** @param {import("./keys.js").StoredKey} stored */
async function start(stored) {
  conn = new Connection(stored.user, stored.key, lang);
  conn.on("state", showConnState);
  conn.on("event", (/** @type {EvEvent} */ ev) => {
    if (!log.has(ev.stream)) log.set(ev.stream, []);
    log.get(ev.stream)?.push(ev);
  });
  await conn.connect();
  allowed = await loadRoles(conn);
  const p = conn.profile || {};
  fill(document.getElementById("who"), h("strong", null, p.name || stored.user),
    p.org ? h("small", null, " · " + p.org) : null, h("small", { class: "uid" }, ` (${stored.user})`));
  const out = /** @type {HTMLButtonElement} */ (document.getElementById("logout-btn"));
  out.hidden = false;
  out.textContent = t("logout");
  out.onclick = async () => {
    await forgetKey();
    await conn?.logout().catch(() => undefined);
    location.hash = "";
    location.reload();
  };
  /** @type {any} */ (window).evalroom = { conn, log };
  window.addEventListener("hashchange", showView);
  await showView();
}

/**
 * Why a login failed, as a sentence that says what to do (never a script's own message).
 * @param {any} err
 */
function loginError(err) {
  const known = ["key_file_malformed", "key_file_mismatch", "no_key_file"];
  if (known.includes(err?.message)) return t(`login.${err.message}`);
  if (err?.code === "bad_signature") return t("login.bad_signature");
  if (err?.code && err.code !== "closed" && err.message) return t("login.failed", { message: err.message });
  if (err instanceof TypeError) return t("login.network");
  if (err?.name === "DataError" || err?.name === "SyntaxError") return t("login.key_file_malformed");
  return t("login.failed", { message: t("login.retry") });
}

/** @param {string} [error] */
async function showLogin(error) {
  const stored = await loadKey().catch(() => undefined);
  const file = /** @type {HTMLInputElement} */ (
    h("input", { type: "file", id: "key-file", accept: ".json,.key,application/json" })
  );
  const btn = /** @type {HTMLButtonElement} */ (
    h("button", { class: "primary", id: "login-btn", type: "submit" }, t("login.submit"))
  );
  const form = h("form", { class: "login card" },
    h("h2", null, t("login.title")),
    h("p", { class: "hint" }, t("login.hint")),
    h("label", null, t("login.file"), file),
    error ? h("p", { class: "error", id: "login-error" }, error) : null,
    h("div", { class: "actions" }, btn),
    stored ? h("p", { class: "hint" }, t("login.stored", { user: stored.user }), " ",
      h("button", { type: "button", class: "link", onclick: async () => { await forgetKey(); location.reload(); } }, t("login.forget"))) : null,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    btn.disabled = true;
    try {
      const key = file.files?.length ? await importKeyFile(await readPicked(file)) : stored;
      if (!key) throw new Error("no_key_file");
      await saveKey(key);
      await start(key);
    } catch (err) {
      conn = null;
      showLogin(loginError(err));
    }
  });
  fill(/** @type {HTMLElement} */ (document.getElementById("main")),
    h("div", { class: "login-wrap" }, h("div", { class: "login-intro" },
      h("h1", null, t("brand")), h("p", null, t("tagline")),
      h("ul", null, VIEWS.map((v) => h("li", null, t(`nav.${v}`))))), form));
}

header();
const stored = await loadKey().catch(() => undefined);
if (stored) {
  start(stored).catch((err) => showLogin(loginError(err)));
} else {
  showLogin();
}
export { act, toast };

/**
 * Login by challenge-response and one `/ws` connection that reconnects by itself and resumes
 * each stream from the last seq it saw (`{"t":"sub","stream":…,"after":lastSeq}`).
 * @module connection
 */
import { signJson } from "./keys.js";

/** The protocol version this client speaks (`wire/codes.py`; tests/test_wire.py checks). */
export const PROTOCOL_VERSION = 1;

/** The close codes this client acts on, named as `wire.codes.CloseCode` names them. */
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  ABNORMAL: 1006,
  UNAUTHENTICATED: 4001,
});

/** @typedef {{t: string, [k: string]: any}} Message */
/** @typedef {{stream: string, seq: number, type: string, actor: string, at: string, payload: any, visibility: string, sig: string|null}} EvEvent */

export class RequestError extends Error {
  /**
   * @param {string} code @param {string} message @param {any} [detail]
   * @param {{field?: string}} [details] `details.field`: the body's input at fault
   */
  constructor(code, message, detail, details) {
    super(message);
    this.code = code;
    this.detail = detail;
    this.details = details || {};
  }
}

/**
 * `POST /auth/challenge` then `POST /auth/login` with the Ed25519 signature of the canonical
 * JSON of {"purpose":"evalroom-login","user","nonce"}.
 * @param {string} user @param {CryptoKey} key
 * @returns {Promise<{token: string, expires_at: number, user: string, name: string, org: string|null}>}
 */
export async function login(user, key) {
  const challenge = await postJson("/auth/challenge", { user });
  const sig = await signJson(key, { purpose: "evalroom-login", user, nonce: challenge.nonce });
  return postJson("/auth/login", { user, nonce: challenge.nonce, sig });
}

/** @param {string} path @param {any} body */
async function postJson(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", "accept-language": document.documentElement.lang || "zh-CN" },
    body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new RequestError(data.code || "http_" + r.status, data.message || r.statusText);
  return data;
}

let idCounter = 0;
const idPrefix = "w" + Math.random().toString(36).slice(2, 10);

/**
 * One participant's live connection.
 * Emits (via `on`): "event" (EvEvent), "presence" (Message), "state" ("connecting" |
 * "online" | "offline" | "reconnected"), "welcome" (Message), "resubscribed" ({again,
 * streams}: the subs were (re)sent on a new socket).
 */
export class Connection {
  /** @param {string} user @param {CryptoKey} key @param {string} lang */
  constructor(user, key, lang) {
    this.user = user;
    this.key = key;
    this.lang = lang;
    /** @type {string|null} */ this.token = null;
    this.tokenExpires = 0;
    this.profile = /** @type {any} */ (null);
    /** @type {WebSocket|null} */ this.ws = null;
    /** @type {Map<string, number>} last seq seen per subscribed stream */
    this.streams = new Map();
    /** @type {Set<string>} */ this.presenceStreams = new Set();
    /** @type {Map<string, number>} streams not there yet (unknown_stream): retries so far */
    this.awaited = new Map();
    /** @type {Set<string>} streams whose `sub` the node accepted on this socket */
    this.confirmed = new Set();
    /** @type {Map<string, {msg: Message, resolve: Function, reject: Function}>} */
    this.pending = new Map();
    /** @type {Map<string, Set<Function>>} */ this.listeners = new Map();
    this.everConnected = false;
    this.closing = false;
    this.retryDelay = 250;
    this.heartbeat = 2;
    this.lastHeard = Date.now();
    /** @type {number|undefined} */ this.hbTimer = undefined;
    /** @type {number|undefined} */ this.retryTimer = undefined;
    this.reconnects = 0;
    window.addEventListener("offline", () => this.drop());
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  /** @param {string} name @param {Function} fn */
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name)?.add(fn);
    return () => this.listeners.get(name)?.delete(fn);
  }

  /** @param {string} name @param {any} value */
  emit(name, value) {
    for (const fn of this.listeners.get(name) || []) {
      try {
        fn(value);
      } catch (err) {
        console.error(err);
      }
    }
  }

  async ensureToken() {
    if (!this.token || this.tokenExpires - Date.now() / 1000 < 30) {
      const data = await login(this.user, this.key);
      this.token = data.token;
      this.tokenExpires = Number(data.expires_at);
      this.profile = data;
    }
    return this.token;
  }

  /** Open the socket; resolves on `welcome`. */
  async connect() {
    this.closing = false;
    this.emit("state", "connecting");
    const token = await this.ensureToken();
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/ws?token=${encodeURIComponent(token)}&lang=${this.lang}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    await new Promise((resolve, reject) => {
      let welcomed = false;
      ws.onmessage = (e) => {
        const data = JSON.parse(e.data);
        for (const msg of Array.isArray(data) ? data : [data]) {
          if (msg.t === "welcome" && !welcomed) {
            welcomed = true;
            this.onWelcome(msg);
            resolve(undefined);
          } else this.dispatch(msg);
        }
      };
      ws.onclose = (e) => {
        if (!welcomed) reject(new RequestError("closed", `closed ${e.code}`));
        this.onClose(ws, e.code);
      };
    });
  }

  /** @param {Message} msg */
  onWelcome(msg) {
    this.heartbeat = Number(msg.heartbeat) || 2;
    this.lastHeard = Date.now();
    this.retryDelay = 250;
    const again = this.everConnected;
    this.everConnected = true;
    clearInterval(this.hbTimer);
    this.hbTimer = window.setInterval(() => this.beat(), this.heartbeat * 1000);
    for (const [stream, after] of this.streams) this.send({ t: "sub", stream, after });
    this.confirmed.clear();
    // Whoever checks something on every (re)connect (the supervisor's log watch) hooks here.
    this.emit("resubscribed", { again, streams: [...this.streams.keys()] });
    for (const { msg: cmd } of this.pending.values()) this.send(cmd); // same id: idempotent
    this.emit("welcome", msg);
    if (again) this.reconnects += 1;
    this.emit("state", again ? "reconnected" : "online");
  }

  beat() {
    // No answer for several heartbeats: the network is gone even if the socket looks open.
    if (Date.now() - this.lastHeard > this.heartbeat * 4000) this.drop();
    else this.send({ t: "hb" });
  }

  /** Treat the socket as lost (network gone) and reconnect when possible. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    this.onClose(ws, CLOSE.ABNORMAL);
  }

  /** @param {WebSocket} ws @param {number} code */
  onClose(ws, code) {
    if (this.ws && this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.hbTimer);
    if (this.closing) return;
    if (code === CLOSE.UNAUTHENTICATED) this.token = null; // expired: log in again
    this.emit("state", "offline");
    this.reconnectSoon(this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 8000);
  }

  /** @param {number} delay */
  reconnectSoon(delay) {
    if (this.closing || this.ws) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => {
      if (!navigator.onLine || this.ws) return;
      this.connect().catch(() => this.onClose(/** @type {any} */ (null), CLOSE.ABNORMAL));
    }, delay);
  }

  close() {
    this.closing = true;
    clearInterval(this.hbTimer);
    this.ws?.close(CLOSE.NORMAL);
  }

  /** Revoke this session's token on every node (POST /auth/logout), then close. */
  async logout() {
    this.close();
    const token = this.token;
    this.token = null;
    if (token) await fetch("/auth/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } });
  }

  /** @param {Message} msg */
  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** @param {Message} msg */
  dispatch(msg) {
    this.lastHeard = Date.now();
    if (msg.t === "event") {
      const last = this.streams.get(msg.stream) ?? 0;
      if (msg.seq <= last) return; // already seen (replay overlap)
      this.streams.set(msg.stream, msg.seq);
      this.emit("event", msg);
    } else if (msg.t === "ack" || (msg.t === "error" && msg.id && this.pending.has(msg.id))) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.t === "error" && msg.retryable) {
        // store_unavailable, outcome_unknown: ask again with the same id (idempotent).
        window.setTimeout(() => {
          if (this.pending.get(msg.id) === p) this.send(p.msg);
        }, 1000);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.t === "ack") p.resolve(msg);
      else p.reject(new RequestError(msg.code, msg.message, msg.detail, msg.details));
    } else if (msg.t === "subscribed") {
      this.awaited.delete(msg.stream);
      // Presence is only shown for a stream one follows: ask once the sub is accepted.
      this.confirmed.add(msg.stream);
      if (this.presenceStreams.has(msg.stream)) this.send({ t: "presence", stream: msg.stream });
    } else if (msg.t === "presence") {
      this.emit("presence", msg);
    } else if (msg.t === "error") {
      if (msg.stream) this.streams.delete(msg.stream); // a refused sub may be retried
      if (msg.stream && msg.code === "unknown_stream" && !msg.id) {
        // A stream that does not exist yet (a section's session, created once its opening
        // record is signed) is asked for again, less and less often: the page follows it
        // from its first event without a reload. Not an error a person needs to see.
        const n = this.awaited.get(msg.stream) || 0;
        this.awaited.set(msg.stream, n + 1);
        window.setTimeout(() => this.subscribe(msg.stream), Math.min(30_000, 1000 * 2 ** Math.min(n, 5)));
        return;
      }
      this.emit("error", msg);
    }
  }

  /**
   * Follow a stream from `after` (default: where we are, or 0).
   * @param {string} stream
   */
  subscribe(stream) {
    if (this.streams.has(stream)) return;
    this.streams.set(stream, 0);
    this.send({ t: "sub", stream, after: 0 });
  }

  /** @param {string} stream */
  watchPresence(stream) {
    this.presenceStreams.add(stream);
    if (this.confirmed.has(stream)) this.send({ t: "presence", stream });
  }

  /**
   * Run a command; resolves with the ack, rejects with a RequestError.
   * @param {string} stream @param {string} type @param {Record<string, any>} [body]
   * @param {{sign?: boolean}} [opts]
   */
  async command(stream, type, body = {}, opts = {}) {
    const id = `${idPrefix}-${++idCounter}`;
    /** @type {Message} */
    const msg = { t: "cmd", v: PROTOCOL_VERSION, id, stream, type, body };
    if (opts.sign) msg.sig = await signJson(this.key, { id, stream, type, body });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { msg, resolve, reject });
      this.send(msg);
    });
  }
}

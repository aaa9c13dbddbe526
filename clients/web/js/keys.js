/**
 * The participant's key in the browser: imported once from its key file into a
 * non-extractable WebCrypto Ed25519 key, kept in IndexedDB (structured clone keeps it
 * non-extractable), and used to sign logins and signed commands.
 * @module keys
 */
import { canonicalBytes } from "./canonical.js";

const DB = "evalroom";
const STORE = "keys";

/** @param {Uint8Array} bytes */
export function b64u(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {string} text */
export function unb64u(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * @typedef {{user: string, publicKey: string, key: CryptoKey}} StoredKey
 */

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** @param {"readonly"|"readwrite"} mode @param {(s: IDBObjectStore) => IDBRequest} op */
async function withStore(mode, op) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const req = op(db.transaction(STORE, mode).objectStore(STORE));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Import a key file (`evalroom-key/1`) as a non-extractable signing key.
 * @param {string} text the file's content
 * @returns {Promise<StoredKey>}
 */
export async function importKeyFile(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("key_file_malformed");
  }
  if (!data || data.format !== "evalroom-key/1" || typeof data.user !== "string") {
    throw new Error("key_file_malformed");
  }
  const secret = String(data.signing_key || "");
  const pub = String(data.public_key || "");
  if (!secret.startsWith("ed25519-secret:") || !pub.startsWith("ed25519:")) {
    throw new Error("key_file_malformed");
  }
  const jwk = {
    kty: "OKP",
    crv: "Ed25519",
    d: secret.slice("ed25519-secret:".length),
    x: pub.slice("ed25519:".length),
  };
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
  // Prove the pair matches: a signature must verify under the file's public key.
  const probe = new TextEncoder().encode("evalroom-key-check");
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key, probe);
  if (!(await verifyRaw(pub, new Uint8Array(sig), probe))) throw new Error("key_file_mismatch");
  return { user: data.user, publicKey: pub, key };
}

/** @param {StoredKey} stored */
export async function saveKey(stored) {
  await withStore("readwrite", (s) => s.put(stored, "current"));
}

/** @returns {Promise<StoredKey | undefined>} */
export async function loadKey() {
  return /** @type {Promise<StoredKey | undefined>} */ (
    withStore("readonly", (s) => s.get("current"))
  );
}

export async function forgetKey() {
  await withStore("readwrite", (s) => s.delete("current"));
}

/**
 * Sign the canonical JSON of `value`; base64url without padding.
 * @param {CryptoKey} key @param {unknown} value
 */
export async function signJson(key, value) {
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key, canonicalBytes(value));
  return b64u(new Uint8Array(sig));
}

/**
 * @param {string} publicKey `ed25519:<base64url>` @param {Uint8Array} sig @param {Uint8Array} data
 */
export async function verifyRaw(publicKey, sig, data) {
  const raw = unb64u(publicKey.replace(/^ed25519:/, ""));
  const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig, data);
}

/** @param {string} publicKey @param {string} sig base64url @param {unknown} value */
export async function verifyJson(publicKey, sig, value) {
  try {
    return await verifyRaw(publicKey, unb64u(sig), canonicalBytes(value));
  } catch {
    return false;
  }
}

/**
 * The per-bid keys a bidder makes when sealing in the page, kept until the opening.
 *
 * A per-bid key must be released at the opening as its `AGE-SECRET-KEY-1…` string (the
 * server decrypts with it), so it cannot live only as a non-extractable WebCrypto key.
 * What this module does instead:
 *
 * - One AES-256-GCM key per browser profile, generated here as **non-extractable** and kept
 *   in IndexedDB (structured clone keeps it non-extractable): page script can use it but
 *   never read it.
 * - {@link sealEnvelope} makes a fresh per-bid identity, seals the bid to it and to the
 *   tender's opening recipient (as `evalroom-bidder seal` does), and keeps the identity
 *   with the sealed file's SHA-256 and size, which the upload receipt must name.
 * - Each identity string is stored only encrypted under that key, with its tender, section,
 *   envelope and sealed file's hash as associated data, so a record moved to another slot
 *   does not decrypt. It is decrypted only to be released ({@link loadBidKey}) or backed up.
 *   Sealing again never overwrites: each sealed file keeps its own key, and the release
 *   picks the one whose hash the platform's receipt names, like the CLI.
 * - {@link exportBackup} makes the backup file the bidder is asked to download: the bids in
 *   the CLI's `evalroom-bid-keys/1` format, encrypted with AES-256-GCM under a key from
 *   PBKDF2-HMAC-SHA-256 (600,000 iterations, random salt) of a passphrase. Decrypted, it is
 *   exactly the file `evalroom-bidder` and the bidder page already read. The file is JSON:
 *
 *       {"format": "evalroom-bid-key-backup/1",
 *        "kdf": {"name": "PBKDF2-HMAC-SHA-256", "iterations": 600000, "salt": <base64>},
 *        "cipher": {"name": "AES-256-GCM", "iv": <base64, 12 bytes>},
 *        "ciphertext": <base64 of ciphertext || 16-byte tag>}
 *
 *   The key is PBKDF2 of the UTF-8 of the NFC-normalized passphrase. The associated data is
 *   the UTF-8 of `evalroom-bid-key-backup/1\nPBKDF2-HMAC-SHA-256\n<iterations>\n<salt>`,
 *   so the parameters cannot be changed without failing authentication.
 *
 * Limits: script running in this origin (a cross-site-scripting flaw, or a platform that
 * serves altered pages) can ask the key to decrypt, so it can read the identities; so can
 * malware on the PC. Clearing the site's data destroys the vault; the backup file is the
 * way back. See docs/threat-model.md.
 * @module bidkeys
 */

import { generateIdentity, identityToRecipient, sealFile } from "./age.js";

const DB = "evalroom-bidkeys";
const KEYS = "vault";
const BIDS = "bids";
const VAULT_KEY = "aes-gcm";
export const BACKUP_FORMAT = "evalroom-bid-key-backup/1";
export const BID_KEYS_FORMAT = "evalroom-bid-keys/1";
export const PBKDF2_ITERATIONS = 600_000;
// Backups read from a file must not make the page spin for minutes, nor be weak.
const MIN_ITERATIONS = 100_000;
const MAX_ITERATIONS = 10_000_000;
export const MIN_PASSPHRASE = 12;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * An error with a stable code as its message (as keys.js does).
 */
export class BidKeyError extends Error {
  /** @param {string} code */
  constructor(code) {
    super(code);
    this.name = "BidKeyError";
    this.code = code;
  }
}

/**
 * @typedef {{tender: string, section: string, envelope: string}} Slot
 * @typedef {{sealed_sha256: string, sealed_size: number, sealed_file: string,
 *   created_at: string, submitted_seq: number | null}} Sealed
 * @typedef {Slot & Sealed & {identity: string}} BidKey an `evalroom-bid-keys/1` entry
 * @typedef {Slot & Sealed & {recipient: string, order: number, iv: Uint8Array, ct: Uint8Array}} Stored
 */

// Records sort by when they were stored (created_at has whole seconds only, as the CLI's).
let stored = 0;
function nextOrder() {
  stored = (stored + 1) % 1000;
  return Date.now() * 1000 + stored;
}

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(KEYS);
      req.result.createObjectStore(BIDS);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Run one request in a transaction on `store`; resolve when the transaction commits.
 * @template T
 * @param {string} store @param {IDBTransactionMode} mode
 * @param {(s: IDBObjectStore, done: (value: T) => void) => void} op
 * @returns {Promise<T>}
 */
async function transact(store, mode, op) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      /** @type {T} */
      let result;
      op(tx.objectStore(store), (value) => {
        result = value;
      });
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** @param {Slot} slot */
function slotId(slot) {
  for (const part of [slot.tender, slot.section, slot.envelope]) {
    if (typeof part !== "string" || !part || part.includes("/")) {
      throw new BidKeyError("bid_key_slot_invalid");
    }
  }
  return `${slot.tender}/${slot.section}/${slot.envelope}`;
}

/** @param {Slot & {sealed_sha256: string}} entry */
function recordId(entry) {
  if (!/^[0-9a-f]{64}$/.test(entry.sealed_sha256)) throw new BidKeyError("bid_key_slot_invalid");
  return `${slotId(entry)}/${entry.sealed_sha256}`;
}

/** @param {Slot & {sealed_sha256: string}} entry */
function recordAad(entry) {
  return encoder.encode(`evalroom-bid-key/1\n${recordId(entry)}`);
}

/**
 * The vault's AES-GCM key: the stored one, or a new non-extractable one stored now. Two
 * tabs racing both end up with the one stored first (a single transaction reads and adds).
 * @returns {Promise<CryptoKey>}
 */
export async function vaultKey() {
  const fresh = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
  return transact(KEYS, "readwrite", (store, done) => {
    const req = store.get(VAULT_KEY);
    req.onsuccess = () => {
      if (req.result) {
        done(req.result);
      } else {
        store.add(fresh, VAULT_KEY);
        done(fresh);
      }
    };
  });
}

/**
 * Keep a per-bid identity, encrypted under the vault key. Asks the browser to keep the
 * site's storage persistent (best effort; the backup file covers eviction).
 * @param {BidKey & {recipient: string}} bid
 */
export async function storeBidKey(bid) {
  const id = recordId(bid);
  const key = await vaultKey();
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: recordAad(bid) },
      key,
      encoder.encode(bid.identity),
    ),
  );
  /** @type {Stored} */
  const record = {
    tender: bid.tender,
    section: bid.section,
    envelope: bid.envelope,
    recipient: bid.recipient,
    sealed_sha256: bid.sealed_sha256,
    sealed_size: bid.sealed_size,
    sealed_file: bid.sealed_file,
    created_at: bid.created_at,
    submitted_seq: bid.submitted_seq ?? null,
    order: nextOrder(),
    iv,
    ct,
  };
  await transact(BIDS, "readwrite", (store) => {
    store.put(record, id);
  });
  if (navigator.storage && navigator.storage.persist) {
    try {
      await navigator.storage.persist();
    } catch {
      // A request only.
    }
  }
}

/**
 * Seal one envelope in the page: a fresh per-bid identity, the bid sealed to it and to the
 * opening recipient, the identity kept in the vault with the sealed file's hash. The
 * plaintext and the identity never leave the page; upload the returned blob.
 * @param {Blob | ReadableStream<Uint8Array>} source the bid package (File from a picker)
 * @param {string} openingRecipient the tender's `age1…` opening recipient
 * @param {Slot & {fileName?: string}} slot where the bid goes; fileName names the sealed file
 * @param {import("./age.js").Progress} [onProgress]
 * @returns {Promise<{blob: Blob, sha256: string, size: number, recipient: string}>}
 */
export async function sealEnvelope(source, openingRecipient, slot, onProgress) {
  slotId(slot);
  const { identity, recipient } = await generateIdentity();
  const { blob, sha256, size } = await sealFile(source, [recipient, openingRecipient], onProgress);
  await storeBidKey({
    tender: slot.tender,
    section: slot.section,
    envelope: slot.envelope,
    identity,
    recipient,
    sealed_sha256: sha256,
    sealed_size: size,
    sealed_file: slot.fileName ?? `${slot.tender}-${slot.section}-${slot.envelope}.age`,
    created_at: new Date().toISOString().replace(/\.\d+Z$/, "+00:00"),
    submitted_seq: null,
  });
  return { blob, sha256, size, recipient };
}

/** @returns {Promise<Stored[]>} oldest first */
async function allRecords() {
  /** @type {Stored[]} */
  const records = await transact(BIDS, "readonly", (store, done) => {
    const req = store.getAll();
    req.onsuccess = () => done(req.result);
  });
  return records.sort((a, b) => a.order - b.order);
}

/**
 * Decrypt one record's identity.
 * @param {Stored} record
 */
async function openRecord(record) {
  const key = await vaultKey();
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: record.iv, additionalData: recordAad(record) },
      key,
      record.ct,
    );
    return decoder.decode(plain);
  } catch {
    throw new BidKeyError("bid_key_unreadable");
  }
}

/**
 * The identity to release for a slot at the opening: the one sealed into the file whose
 * hash the platform's receipt names when `sha256` is given, else the most recent one.
 * Undefined if this browser holds none.
 * @param {Slot} slot @param {string} [sha256]
 * @returns {Promise<string | undefined>}
 */
export async function loadBidKey(slot, sha256) {
  const id = slotId(slot);
  const candidates = (await allRecords()).filter(
    (r) => slotId(r) === id && (sha256 === undefined || r.sealed_sha256 === sha256),
  );
  const record = candidates.pop();
  return record ? openRecord(record) : undefined;
}

/**
 * What the vault holds, without any secret.
 * @returns {Promise<Array<Slot & Sealed & {recipient: string}>>}
 */
export async function listBidKeys() {
  return (await allRecords()).map(({ iv, ct, order, ...rest }) => rest);
}

/** @param {Slot & {sealed_sha256: string}} entry */
export async function forgetBidKey(entry) {
  const id = recordId(entry);
  await transact(BIDS, "readwrite", (store) => {
    store.delete(id);
  });
}

// --- backup file -------------------------------------------------------------------------

/** @param {Uint8Array} bytes */
function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** @param {unknown} text */
function unb64(text) {
  if (typeof text !== "string") throw new BidKeyError("backup_malformed");
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    throw new BidKeyError("backup_malformed");
  }
}

/**
 * The AES-GCM key of a passphrase.
 * @param {string} passphrase @param {Uint8Array} salt @param {number} iterations
 */
async function passphraseKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey(
    "raw",
    encoder.encode(passphrase.normalize("NFC")),
    "PBKDF2",
    false,
    ["deriveKey"],
  );
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * The bytes the backup's AES-GCM authenticates besides the ciphertext: its parameters.
 * @param {number} iterations @param {string} salt base64
 */
function backupAad(iterations, salt) {
  return encoder.encode(`${BACKUP_FORMAT}\nPBKDF2-HMAC-SHA-256\n${iterations}\n${salt}`);
}

/**
 * The backup file's text for the vault's bids (or the given slots), under a passphrase.
 * @param {string} passphrase at least {@link MIN_PASSPHRASE} characters
 * @param {{user?: string, slots?: Slot[]}} [options] user: the bidder's user id, which
 *   `evalroom-bidder` checks when it reads the decrypted file
 * @returns {Promise<string>} JSON, to offer as a download (e.g. `<name>.bidkeys-backup.json`)
 */
export async function exportBackup(passphrase, options = {}) {
  if (typeof passphrase !== "string" || [...passphrase].length < MIN_PASSPHRASE) {
    throw new BidKeyError("backup_passphrase_short");
  }
  const wanted = options.slots ? new Set(options.slots.map(slotId)) : undefined;
  /** @type {BidKey[]} */
  const bids = [];
  for (const record of await allRecords()) {
    if (wanted && !wanted.has(slotId(record))) continue;
    const { iv, ct, recipient, order, ...entry } = record;
    bids.push({ ...entry, identity: await openRecord(record) });
  }
  if (bids.length === 0) throw new BidKeyError("backup_empty");
  const plain = encoder.encode(
    JSON.stringify({ format: BID_KEYS_FORMAT, user: options.user ?? null, bids }),
  );
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const saltText = b64(salt);
  const key = await passphraseKey(passphrase, salt, PBKDF2_ITERATIONS);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: backupAad(PBKDF2_ITERATIONS, saltText) },
      key,
      plain,
    ),
  );
  plain.fill(0);
  return JSON.stringify(
    {
      format: BACKUP_FORMAT,
      kdf: { name: "PBKDF2-HMAC-SHA-256", iterations: PBKDF2_ITERATIONS, salt: saltText },
      cipher: { name: "AES-256-GCM", iv: b64(iv) },
      ciphertext: b64(ct),
    },
    null,
    1,
  );
}

/**
 * Open a backup file and put its bids back into this browser's vault.
 * @param {string} text the file's content
 * @param {string} passphrase
 * @returns {Promise<{format: string, user: string | null, bids: BidKey[]}>} the decrypted
 *   `evalroom-bid-keys/1` content
 */
export async function importBackup(text, passphrase) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new BidKeyError("backup_malformed");
  }
  const iterations = data?.kdf?.iterations;
  if (
    !data ||
    data.format !== BACKUP_FORMAT ||
    data.kdf?.name !== "PBKDF2-HMAC-SHA-256" ||
    data.cipher?.name !== "AES-256-GCM" ||
    !Number.isInteger(iterations) ||
    iterations < MIN_ITERATIONS ||
    iterations > MAX_ITERATIONS
  ) {
    throw new BidKeyError("backup_malformed");
  }
  const salt = unb64(data.kdf.salt);
  const iv = unb64(data.cipher.iv);
  const ct = unb64(data.ciphertext);
  if (salt.length < 16 || iv.length !== 12) throw new BidKeyError("backup_malformed");
  const key = await passphraseKey(String(passphrase), salt, iterations);
  let plain;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: backupAad(iterations, data.kdf.salt) },
      key,
      ct,
    );
  } catch {
    // A wrong passphrase and an altered file look the same to AES-GCM.
    throw new BidKeyError("backup_passphrase_wrong");
  }
  let content;
  try {
    content = JSON.parse(decoder.decode(plain));
  } catch {
    throw new BidKeyError("backup_malformed");
  }
  if (content?.format !== BID_KEYS_FORMAT || !Array.isArray(content.bids)) {
    throw new BidKeyError("backup_malformed");
  }
  for (const bid of content.bids) {
    let recipient;
    try {
      recipient = await identityToRecipient(String(bid.identity));
    } catch {
      throw new BidKeyError("backup_malformed");
    }
    await storeBidKey({ ...bid, recipient });
  }
  return content;
}

// --- messages ----------------------------------------------------------------------------

/**
 * What to tell the bidder for each error code of this module and of age.js (zh-CN first).
 * @type {Record<string, Record<string, string>>}
 */
export const MESSAGES = {
  "zh-CN": {
    age_recipient_invalid: "开标公钥格式不正确（应以 age1 开头）。请从项目页面重新获取。",
    age_identity_invalid: "投标解密密钥格式不正确（应以 AGE-SECRET-KEY-1 开头）。",
    age_no_recipient: "没有可用于密封的公钥。请刷新项目页面后重试。",
    age_low_order: "开标公钥无效（低阶点），无法用于密封。请联系代理机构。",
    bech32_invalid: "密钥字符串校验失败，请检查是否完整复制。",
    bid_key_slot_invalid: "项目、标段或信封编号不正确。",
    bid_key_unreadable: "本浏览器中保存的投标密钥无法读取。请用备份文件恢复。",
    backup_passphrase_short: `备份口令至少需要 ${MIN_PASSPHRASE} 个字符。`,
    backup_passphrase_wrong: "备份口令不正确，或备份文件已被修改。",
    backup_malformed: "这不是有效的投标密钥备份文件（evalroom-bid-key-backup/1）。",
    backup_empty: "本浏览器中没有可备份的投标密钥。",
  },
  en: {
    age_recipient_invalid: "The opening key is malformed (it starts with age1). Fetch it again from the tender page.",
    age_identity_invalid: "The bid key is malformed (it starts with AGE-SECRET-KEY-1).",
    age_no_recipient: "There is no key to seal to. Reload the tender page and try again.",
    age_low_order: "The opening key is invalid (a low-order point) and cannot be sealed to. Contact the agency.",
    bech32_invalid: "The key string fails its checksum; check that it was copied whole.",
    bid_key_slot_invalid: "The tender, section or envelope is not valid.",
    bid_key_unreadable: "The bid key kept in this browser cannot be read. Restore it from the backup file.",
    backup_passphrase_short: `The backup passphrase needs at least ${MIN_PASSPHRASE} characters.`,
    backup_passphrase_wrong: "The backup passphrase is wrong, or the backup file was altered.",
    backup_malformed: "This is not a bid key backup file (evalroom-bid-key-backup/1).",
    backup_empty: "This browser holds no bid key to back up.",
  },
};

/**
 * The sentence for an error of this module or of age.js, in `lang` (zh-CN by default).
 * @param {unknown} err @param {string} [lang]
 */
export function messageFor(err, lang = "zh-CN") {
  const code = err instanceof Error ? err.message : String(err);
  const table = MESSAGES[lang] ?? MESSAGES["zh-CN"];
  return table[code] ?? code;
}

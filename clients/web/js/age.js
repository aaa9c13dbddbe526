/**
 * Sealing in the page: age v1 encryption (c2sp.org/age) to X25519 recipients, streamed.
 *
 * Writes exactly what `crypto/age.py` and the `age` CLI write, so either opens it:
 *
 *     age-encryption.org/v1
 *     -> X25519 <base64 ephemeral share>
 *     <base64 of the 16-byte file key wrapped for one recipient>
 *     --- <base64 HMAC-SHA-256 of everything above, up to and including "---">
 *     <16-byte nonce><payload in 64 KiB chunks, each ChaCha20-Poly1305 sealed>
 *
 * - One stanza per recipient: ChaCha20-Poly1305 (zero nonce) of the file key under
 *   HKDF-SHA-256(ikm = X25519(ephemeral, recipient), salt = share || recipient,
 *   info = "age-encryption.org/v1/X25519").
 * - Header MAC key: HKDF(ikm = file key, salt = empty, info = "header").
 * - Payload key: HKDF(ikm = file key, salt = nonce, info = "payload"); chunk i is sealed
 *   under the nonce `11-byte big-endian i || flag`, flag 0x01 on the last chunk only. Only
 *   the last chunk may be short, and it is empty only when the whole payload is.
 *
 * WebCrypto does X25519, HKDF, HMAC and randomness; ChaCha20-Poly1305 is
 * `chacha20poly1305.js` (WebCrypto has none). Base64 is standard, unpadded and wrapped at
 * 64 columns as the spec requires.
 *
 * Memory: {@link sealStream} reads its source through one reused 64 KiB buffer (a BYOB
 * reader where the stream offers one) and seals into one reused output buffer, so sealing
 * a 100 MiB file holds a few hundred KiB whatever the size; {@link sealToBlob} hands the
 * output to the browser's blob storage 1 MiB at a time.
 * @module age
 */
import { ChaCha20Poly1305, TAG_SIZE } from "./chacha20poly1305.js";
import { Sha256, toHex } from "./sha256.js";

export const VERSION_LINE = "age-encryption.org/v1";
export const CHUNK_SIZE = 64 * 1024;
export const FILE_KEY_SIZE = 16;
export const NONCE_SIZE = 16;
const COLUMNS = 64;
const IDENTITY_HRP = "AGE-SECRET-KEY-";
const RECIPIENT_HRP = "age";
const X25519_INFO = "age-encryption.org/v1/X25519";
// PKCS #8 wrapping of a raw X25519 private key (RFC 8410): the fixed prefix, then 32 bytes.
const PKCS8_X25519 = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
// The X25519 base point, u = 9: X25519(k, 9) is k's public key.
const BASE_POINT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 9 : 0));
// Blob parts of this size keep the number of parts small and the page's share of memory low.
const BLOB_PART = 16 * CHUNK_SIZE;

/**
 * An error with a stable code as its message (as keys.js does), and a sentence in `detail`.
 */
export class AgeError extends Error {
  /** @param {string} code @param {string} detail */
  constructor(code, detail) {
    super(code);
    this.name = "AgeError";
    this.code = code;
    this.detail = detail;
  }
}

const encoder = new TextEncoder();

// --- Bech32 (BIP 173 as age uses it: no length limit) ------------------------------------

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/** @param {number[]} values */
function polymod(values) {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GENERATOR[i]) >>> 0;
  }
  return chk;
}

/** @param {string} hrp */
function hrpExpand(hrp) {
  const out = [];
  for (const ch of hrp) out.push(ch.charCodeAt(0) >>> 5);
  out.push(0);
  for (const ch of hrp) out.push(ch.charCodeAt(0) & 31);
  return out;
}

/** @param {string} hrp */
function checkHrp(hrp) {
  if (!hrp || [...hrp].some((c) => c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126)) {
    throw new AgeError("bech32_invalid", "invalid Bech32 human-readable part");
  }
}

/**
 * Encode bytes under a human-readable part; the result is lower case.
 * @param {string} hrp @param {Uint8Array} data
 */
export function bech32Encode(hrp, data) {
  const h = hrp.toLowerCase();
  checkHrp(h);
  /** @type {number[]} */
  const values = [];
  let acc = 0;
  let bits = 0;
  for (const byte of data) {
    acc = ((acc << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      values.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) values.push((acc << (5 - bits)) & 31);
  const mod = polymod([...hrpExpand(h), ...values, 0, 0, 0, 0, 0, 0]) ^ 1;
  for (let i = 0; i < 6; i++) values.push((mod >>> (5 * (5 - i))) & 31);
  return h + "1" + values.map((v) => CHARSET[v]).join("");
}

/**
 * Decode a Bech32 string strictly: one case, valid checksum, zero padding bits.
 * @param {string} text
 * @returns {{hrp: string, data: Uint8Array}} the human-readable part as written
 */
export function bech32Decode(text) {
  if (text.toLowerCase() !== text && text.toUpperCase() !== text) {
    throw new AgeError("bech32_invalid", "Bech32 string mixes upper and lower case");
  }
  const pos = text.lastIndexOf("1");
  if (pos < 1 || pos + 7 > text.length) {
    throw new AgeError("bech32_invalid", "Bech32 separator misplaced or checksum too short");
  }
  const hrp = text.slice(0, pos);
  checkHrp(hrp);
  const values = [];
  for (const ch of text.slice(pos + 1).toLowerCase()) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) throw new AgeError("bech32_invalid", "invalid character in Bech32 data part");
    values.push(v);
  }
  if (polymod([...hrpExpand(hrp.toLowerCase()), ...values]) !== 1) {
    throw new AgeError("bech32_invalid", "invalid Bech32 checksum");
  }
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const v of values.slice(0, -6)) {
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) {
    throw new AgeError("bech32_invalid", "invalid Bech32 padding");
  }
  return { hrp, data: Uint8Array.from(out) };
}

// --- base64 (standard alphabet, no padding) ----------------------------------------------

/** @param {Uint8Array} bytes */
export function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, "");
}

/** @param {Uint8Array} body a stanza body, wrapped at 64 columns, ending in a short line */
function wrapBody(body) {
  const text = b64(body);
  const lines = [];
  for (let i = 0; i <= text.length; i += COLUMNS) lines.push(text.slice(i, i + COLUMNS));
  return lines.join("\n") + "\n";
}

// --- keys --------------------------------------------------------------------------------

/**
 * The raw public key of an `age1…` recipient.
 * @param {string} recipient
 */
export function parseRecipient(recipient) {
  let decoded;
  try {
    decoded = bech32Decode(recipient.trim());
  } catch {
    throw new AgeError("age_recipient_invalid", "the recipient is not valid Bech32");
  }
  if (decoded.hrp !== RECIPIENT_HRP || decoded.data.length !== 32) {
    throw new AgeError("age_recipient_invalid", "the recipient is not an age X25519 recipient");
  }
  return decoded.data;
}

/**
 * The 32 secret bytes of an `AGE-SECRET-KEY-1…` identity. Messages never quote the input.
 * @param {string} identity
 */
export function identitySecret(identity) {
  let decoded;
  try {
    decoded = bech32Decode(identity.trim());
  } catch {
    throw new AgeError("age_identity_invalid", "the identity is not valid Bech32");
  }
  if (decoded.hrp !== IDENTITY_HRP || decoded.data.length !== 32) {
    throw new AgeError("age_identity_invalid", "the identity is not an age X25519 secret key");
  }
  return decoded.data;
}

/**
 * The `AGE-SECRET-KEY-1…` string of 32 secret bytes.
 * @param {Uint8Array} secret
 */
export function identityFromSecret(secret) {
  if (secret.length !== 32) throw new AgeError("age_identity_invalid", "an X25519 secret is 32 bytes");
  return bech32Encode(IDENTITY_HRP, secret).toUpperCase();
}

/**
 * X25519(secret, u) through WebCrypto; the secret is imported non-extractable for this call.
 * @param {Uint8Array} secret 32 bytes @param {Uint8Array} u 32 bytes
 * @returns {Promise<Uint8Array>}
 */
export async function x25519(secret, u) {
  const pkcs8 = new Uint8Array(48);
  pkcs8.set(PKCS8_X25519);
  pkcs8.set(secret, 16);
  const priv = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, [
    "deriveBits",
  ]);
  pkcs8.fill(0);
  const pub = await crypto.subtle.importKey("raw", u, { name: "X25519" }, true, []);
  return deriveShared(priv, pub);
}

/**
 * @param {CryptoKey} priv @param {CryptoKey} pub
 * @returns {Promise<Uint8Array>}
 */
async function deriveShared(priv, pub) {
  let bits;
  try {
    bits = await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256);
  } catch {
    // WebCrypto refuses the all-zero result of a low-order point, as age requires.
    throw new AgeError("age_low_order", "the X25519 point is of low order");
  }
  const shared = new Uint8Array(bits);
  if (shared.every((b) => b === 0)) throw new AgeError("age_low_order", "all-zero X25519 secret");
  return shared;
}

/**
 * The `age1…` recipient of an identity.
 * @param {string} identity
 */
export async function identityToRecipient(identity) {
  const secret = identitySecret(identity);
  try {
    return bech32Encode(RECIPIENT_HRP, await x25519(secret, BASE_POINT));
  } finally {
    secret.fill(0);
  }
}

/**
 * A new identity, as `age-keygen` makes one: 32 random bytes.
 * @returns {Promise<{identity: string, recipient: string}>}
 */
export async function generateIdentity() {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  try {
    const identity = identityFromSecret(secret);
    const recipient = bech32Encode(RECIPIENT_HRP, await x25519(secret, BASE_POINT));
    return { identity, recipient };
  } finally {
    secret.fill(0);
  }
}

// --- primitives --------------------------------------------------------------------------

/**
 * HKDF-SHA-256 with a 32-byte output (RFC 5869).
 * @param {Uint8Array} ikm @param {Uint8Array} salt @param {string | Uint8Array} info
 * @returns {Promise<Uint8Array>}
 */
export async function hkdf(ikm, salt, info) {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const infoBytes = typeof info === "string" ? encoder.encode(info) : info;
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt, info: infoBytes },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * @param {Uint8Array} key @param {Uint8Array} data
 * @returns {Promise<Uint8Array>}
 */
export async function hmacSha256(key, data) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** @param {Uint8Array[]} parts */
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

// --- header ------------------------------------------------------------------------------

/**
 * One X25519 stanza wrapping `fileKey` for a recipient's public key.
 * @param {Uint8Array} fileKey @param {Uint8Array} recipient
 */
async function x25519Stanza(fileKey, recipient) {
  const eph = /** @type {CryptoKeyPair} */ (
    await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])
  );
  const share = new Uint8Array(await crypto.subtle.exportKey("raw", eph.publicKey));
  const pub = await crypto.subtle.importKey("raw", recipient, { name: "X25519" }, true, []);
  const shared = await deriveShared(eph.privateKey, pub);
  const wrapKey = await hkdf(shared, concat([share, recipient]), X25519_INFO);
  shared.fill(0);
  const body = new ChaCha20Poly1305(wrapKey).seal(new Uint8Array(12), fileKey);
  wrapKey.fill(0);
  return `-> X25519 ${b64(share)}\n${wrapBody(body)}`;
}

/**
 * The header (through the MAC line), the payload nonce after it, and the payload AEAD.
 * @param {string[]} recipients `age1…` strings
 * @returns {Promise<{head: Uint8Array, aead: ChaCha20Poly1305}>}
 */
export async function beginSeal(recipients) {
  if (!Array.isArray(recipients) || recipients.length === 0) {
    throw new AgeError("age_no_recipient", "at least one recipient is required");
  }
  const publics = recipients.map(parseRecipient);
  const fileKey = crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE));
  try {
    let text = VERSION_LINE + "\n";
    for (const pub of publics) text += await x25519Stanza(fileKey, pub);
    text += "---";
    const macKey = await hkdf(fileKey, new Uint8Array(0), "header");
    const mac = await hmacSha256(macKey, encoder.encode(text));
    macKey.fill(0);
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const head = concat([encoder.encode(`${text} ${b64(mac)}\n`), nonce]);
    const payloadKey = await hkdf(fileKey, nonce, "payload");
    const aead = new ChaCha20Poly1305(payloadKey);
    payloadKey.fill(0);
    return { head, aead };
  } finally {
    fileKey.fill(0);
  }
}

/**
 * The payload nonce of chunk `counter`: 11-byte big-endian counter, then the last flag.
 * @param {Uint8Array} nonce 12 bytes, rewritten @param {number} counter @param {boolean} last
 */
function chunkNonce(nonce, counter, last) {
  nonce.fill(0);
  let c = counter;
  for (let i = 10; i >= 0 && c > 0; i--) {
    nonce[i] = c % 256;
    c = Math.floor(c / 256);
  }
  nonce[11] = last ? 1 : 0;
  return nonce;
}

// --- streaming ---------------------------------------------------------------------------

/**
 * @callback Progress
 * @param {number} done plaintext bytes read so far
 * @param {number | undefined} total the plaintext size, when the source is a Blob
 */

/** Let the page breathe (paint, input, progress) between bursts of sealing. */
function yieldToPage() {
  const s = /** @type {any} */ (globalThis).scheduler;
  if (s && typeof s.yield === "function") return s.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve(undefined);
    channel.port2.postMessage(null);
  });
}

/**
 * Read a stream into reused buffers: yields views of a 64 KiB buffer that stay valid only
 * until the next step. Uses a BYOB reader when the stream is a byte stream (File.stream()
 * is), so reading allocates nothing per chunk.
 * @param {ReadableStream<Uint8Array>} readable
 * @returns {AsyncGenerator<Uint8Array>}
 */
async function* readChunks(readable) {
  /** @type {ReadableStreamBYOBReader | undefined} */
  let byob;
  try {
    byob = readable.getReader({ mode: "byob" });
  } catch {
    byob = undefined;
  }
  if (byob) {
    let buffer = new ArrayBuffer(CHUNK_SIZE);
    try {
      while (true) {
        const { value, done } = await byob.read(new Uint8Array(buffer, 0, CHUNK_SIZE));
        if (done || !value) return;
        buffer = value.buffer; // the same memory, transferred back to us
        yield value;
      }
    } finally {
      byob.releaseLock();
    }
  }
  const reader = readable.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Seal a file or stream as an age v1 file, chunk by chunk.
 *
 * Yields the header first, then one sealed 64 KiB chunk (plus tag) at a time. **Every
 * yielded array is a view of a reused buffer, valid only until the next step**: copy it
 * (`new Blob([part])`, `part.slice()`, a write that copies) before asking for the next one.
 * @param {Blob | ReadableStream<Uint8Array>} source a File, Blob or byte stream
 * @param {string[]} recipients `age1…` recipients, e.g. the opening key and the per-bid key
 * @param {Progress} [onProgress] called after every chunk read
 * @returns {AsyncGenerator<Uint8Array>}
 */
export async function* sealStream(source, recipients, onProgress) {
  const total = source instanceof Blob ? source.size : undefined;
  const readable = source instanceof Blob ? source.stream() : source;
  const { head, aead } = await beginSeal(recipients);
  yield head;
  const plain = new Uint8Array(CHUNK_SIZE);
  const sealed = new Uint8Array(CHUNK_SIZE + TAG_SIZE);
  const nonce = new Uint8Array(12);
  const noAad = new Uint8Array(0);
  let fill = 0;
  let counter = 0;
  let done = 0;
  try {
    for await (const piece of readChunks(readable)) {
      let off = 0;
      while (off < piece.length) {
        // A full buffer is sealed as a non-final chunk only once more data is known to
        // follow; the last chunk (full or not) is sealed after the source ends.
        if (fill === CHUNK_SIZE) {
          aead.seal(chunkNonce(nonce, counter, false), plain, noAad, sealed);
          counter += 1;
          fill = 0;
          yield sealed;
          if (counter % 16 === 0) await yieldToPage();
        }
        const n = Math.min(CHUNK_SIZE - fill, piece.length - off);
        plain.set(piece.subarray(off, off + n), fill);
        fill += n;
        off += n;
      }
      done += piece.length;
      if (onProgress) onProgress(done, total);
    }
    const last = sealed.subarray(0, fill + TAG_SIZE);
    aead.seal(chunkNonce(nonce, counter, true), plain.subarray(0, fill), noAad, last);
    yield last;
  } finally {
    plain.fill(0);
  }
}

/**
 * Seal into a Blob, handed to the browser's blob storage 1 MiB at a time (the page keeps
 * only the part being filled; the browser may keep the rest on disk).
 * @param {Blob | ReadableStream<Uint8Array>} source
 * @param {string[]} recipients
 * @param {Progress} [onProgress]
 * @returns {Promise<Blob>}
 */
export async function sealToBlob(source, recipients, onProgress) {
  return (await sealParts(source, recipients, onProgress, undefined)).blob;
}

/**
 * {@link sealToBlob}, also hashing the sealed file as it is written: its SHA-256 (hex) and
 * size are what the platform's upload receipt must name.
 * @param {Blob | ReadableStream<Uint8Array>} source
 * @param {string[]} recipients
 * @param {Progress} [onProgress]
 * @returns {Promise<{blob: Blob, sha256: string, size: number}>}
 */
export async function sealFile(source, recipients, onProgress) {
  const hash = new Sha256();
  const { blob } = await sealParts(source, recipients, onProgress, hash);
  return { blob, sha256: toHex(hash.digest()), size: blob.size };
}

/**
 * @param {Blob | ReadableStream<Uint8Array>} source @param {string[]} recipients
 * @param {Progress | undefined} onProgress @param {Sha256 | undefined} hash
 */
async function sealParts(source, recipients, onProgress, hash) {
  /** @type {Blob[]} */
  const parts = [];
  const staging = new Uint8Array(BLOB_PART);
  let used = 0;
  for await (const piece of sealStream(source, recipients, onProgress)) {
    if (hash) hash.update(piece);
    if (used + piece.length > staging.length) {
      parts.push(new Blob([staging.subarray(0, used)]));
      used = 0;
    }
    if (piece.length > staging.length) {
      parts.push(new Blob([piece]));
    } else {
      staging.set(piece, used);
      used += piece.length;
    }
  }
  parts.push(new Blob([staging.subarray(0, used)]));
  return { blob: new Blob(parts, { type: "application/octet-stream" }) };
}

/**
 * Seal as a ReadableStream of fresh byte arrays, for a streamed upload
 * (`fetch(url, {method: "PUT", body, duplex: "half"})`, which Chromium sends only over
 * HTTP/2; over HTTP/1.1 the fetch fails) or a file the user picked to save to. Pulls from
 * the source only as fast as it is read.
 * @param {Blob | ReadableStream<Uint8Array>} source
 * @param {string[]} recipients
 * @param {Progress} [onProgress]
 * @returns {ReadableStream<Uint8Array>}
 */
export function sealedReadable(source, recipients, onProgress) {
  const parts = sealStream(source, recipients, onProgress);
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await parts.next();
      if (done) controller.close();
      else controller.enqueue(value.slice());
    },
    async cancel() {
      await parts.return(undefined);
    },
  });
}

/**
 * Seal bytes held in memory (small data, tests).
 * @param {Uint8Array} data @param {string[]} recipients
 * @returns {Promise<Uint8Array>}
 */
export async function encryptBytes(data, recipients) {
  const blob = await sealToBlob(new Blob([data]), recipients);
  return new Uint8Array(await blob.arrayBuffer());
}

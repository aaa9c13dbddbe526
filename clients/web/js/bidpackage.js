/**
 * The bid package (投标文件包) in the page, streamed: the same format `crypto/bidpackage.py`
 * writes and the opening reads, a ZIP archive holding `bid-form.json` (the bid form) and the
 * attached documents.
 *
 * Entries are stored (method 0), not deflated: documents are mostly PDFs and scans, already
 * compressed, and storing lets the package's size be known before a byte is read, which the
 * progress bar and the tender's size limit need. Each entry's CRC-32 is computed while its
 * bytes stream past, so it follows the data in a data descriptor (general purpose bit 3);
 * readers take sizes and CRCs from the central directory, as Python's `zipfile` does. Names
 * are UTF-8 (bit 11), so Chinese file names survive. No ZIP64: an entry and the whole
 * package stay below 4 GiB (a tender allows 1 GiB by default).
 *
 * Memory: {@link packageStream} pulls each document through the browser's file stream one
 * chunk at a time; nothing is read whole.
 * @module bidpackage
 */

export const FORM_NAME = "bid-form.json";
/** The sealing environment's keyed hashes (crypto/origin.py); a browser gives only an install id. */
export const ORIGIN_NAME = "evalroom-origin.json";
const INSTALL_ID = "evalroom.install_id";
const LOCAL = 30;
const DESCRIPTOR = 16;
const CENTRAL = 46;
const END = 22;
const LIMIT = 0xffffffff;
const FLAGS = 0x0808; // bit 3: CRC and sizes in a data descriptor; bit 11: UTF-8 names

const encoder = new TextEncoder();

/** An error with a stable code as its message; `name` is the document concerned. */
export class PackageError extends Error {
  /** @param {string} code @param {string} [file] */
  constructor(code, file) {
    super(code);
    this.name = "PackageError";
    this.code = code;
    this.file = file;
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** @param {number} crc running value (start with 0) @param {Uint8Array} data */
export function crc32(crc, data) {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The DOS date and time of a moment, in Beijing time (ZIP has no time zone; the tender's
 * participants read Beijing time).
 * @param {Date} when
 */
function dosTime(when) {
  const d = new Date(when.getTime() + 8 * 3600 * 1000);
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  return { time, date };
}

/**
 * Check a document's name as the platform's package reader would (no path, not the form).
 * @param {string} name
 */
function checkName(name) {
  if (!name || name === FORM_NAME || name === ORIGIN_NAME || name.startsWith("/") || name.includes("\\") ||
      name.split("/").includes("..") || encoder.encode(name).length > 0xffff) {
    throw new PackageError("package_name_invalid", name);
  }
}

/**
 * @typedef {{name: string, bytes: Uint8Array, source: Blob}} Entry
 */

/**
 * A bid package as a stream, and its exact size.
 * @param {Record<string, any>} form the bid form's values (decimals as strings)
 * @param {File[]} files the attached documents, named by their file names
 * @param {{now?: Date, origin?: object}} [options] `origin`: {@link browserOrigin}'s document
 * @returns {{size: number, names: string[], stream: () => ReadableStream<Uint8Array>}}
 */
export function bidPackage(form, files, options = {}) {
  // Sorted keys, as the CLI writes the form (json.dumps(sort_keys=True)); the reader does not mind.
  const sorted = Object.fromEntries(Object.keys(form).sort().map((k) => [k, form[k]]));
  const formBlob = new Blob([encoder.encode(JSON.stringify(sorted))]);
  /** @type {Entry[]} */
  const entries = [{ name: FORM_NAME, bytes: encoder.encode(FORM_NAME), source: formBlob }];
  const seen = new Set([FORM_NAME]);
  if (options.origin) {
    const originBlob = new Blob([encoder.encode(JSON.stringify(options.origin))]);
    entries.push({ name: ORIGIN_NAME, bytes: encoder.encode(ORIGIN_NAME), source: originBlob });
  }
  for (const file of files) {
    checkName(file.name);
    if (seen.has(file.name)) throw new PackageError("package_name_twice", file.name);
    seen.add(file.name);
    if (file.size >= LIMIT) throw new PackageError("package_too_large", file.name);
    entries.push({ name: file.name, bytes: encoder.encode(file.name), source: file });
  }
  let size = END;
  for (const e of entries) size += LOCAL + e.bytes.length + e.source.size + DESCRIPTOR + CENTRAL + e.bytes.length;
  if (size >= LIMIT) throw new PackageError("package_too_large");
  const { time, date } = dosTime(options.now ?? new Date());
  return {
    size,
    names: entries.slice(1).filter((e) => e.name !== ORIGIN_NAME).map((e) => e.name),
    stream: () => packageStream(entries, time, date),
  };
}

/**
 * The origin document of a bid sealed in this browser (`evalroom-origin/1`, crypto/origin.py).
 * A page cannot read MAC addresses, disks or the machine id, and should not pretend to: it
 * reports one random install id, made once and kept in this browser's storage, as its
 * HMAC-SHA256 under the tender's origin key. Two bids sealed in the same browser profile carry
 * the same hash; a cleared profile or another browser has another id. Never fails the seal:
 * without storage the id is fresh each time (and so matches nothing).
 * @param {string} tender the tender's id @param {string} recipient its opening key (age1…)
 * @param {Storage | null} [storage]
 */
export async function browserOrigin(tender, recipient, storage = globalThis.localStorage ?? null) {
  let id = null;
  try { id = storage?.getItem(INSTALL_ID) ?? null; } catch { id = null; }
  if (!id || !/^[0-9a-f]{32}$/.test(id)) {
    id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
    try { storage?.setItem(INSTALL_ID, id); } catch { /* private mode: a fresh id each time */ }
  }
  const parts = ["evalroom-origin-key/1", tender.replace(/^tender:/, ""), recipient.trim()].map((p) => encoder.encode(p));
  const material = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, -1));
  let at = 0;
  for (const [i, p] of parts.entries()) { if (i) material[at++] = 0; material.set(p, at); at += p.length; }
  const keyBytes = await crypto.subtle.digest("SHA-256", material);
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`install_id:${id}`)));
  const hex = [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { format: "evalroom-origin/1", client: "web", hashes: { install_id: [hex] } };
}

/**
 * @param {Entry[]} entries @param {number} time @param {number} date
 * @returns {ReadableStream<Uint8Array>}
 */
function packageStream(entries, time, date) {
  /** @type {{crc: number, size: number, offset: number}[]} */
  const written = [];
  let offset = 0;
  async function* parts() {
    for (const e of entries) {
      const head = new DataView(new ArrayBuffer(LOCAL));
      head.setUint32(0, 0x04034b50, true);
      head.setUint16(4, 20, true);
      head.setUint16(6, FLAGS, true);
      head.setUint16(8, 0, true);
      head.setUint16(10, time, true);
      head.setUint16(12, date, true);
      // CRC and sizes (offsets 14-25) stay zero: they follow in the data descriptor.
      head.setUint16(26, e.bytes.length, true);
      head.setUint16(28, 0, true);
      const start = offset;
      yield new Uint8Array(head.buffer);
      yield e.bytes;
      offset += LOCAL + e.bytes.length;
      let crc = 0;
      let size = 0;
      const reader = e.source.stream().getReader();
      try {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          crc = crc32(crc, value);
          size += value.length;
          yield value;
        }
      } finally {
        reader.releaseLock();
      }
      // A file changed on disk while it was read would no longer match the sizes counted.
      if (size !== e.source.size) throw new PackageError("package_file_changed", e.name);
      offset += size;
      const tail = new DataView(new ArrayBuffer(DESCRIPTOR));
      tail.setUint32(0, 0x08074b50, true);
      tail.setUint32(4, crc, true);
      tail.setUint32(8, size, true);
      tail.setUint32(12, size, true);
      yield new Uint8Array(tail.buffer);
      offset += DESCRIPTOR;
      written.push({ crc, size, offset: start });
    }
    const dirStart = offset;
    for (const [i, e] of entries.entries()) {
      const w = written[i];
      const c = new DataView(new ArrayBuffer(CENTRAL));
      c.setUint32(0, 0x02014b50, true);
      c.setUint16(4, 20, true);
      c.setUint16(6, 20, true);
      c.setUint16(8, FLAGS, true);
      c.setUint16(10, 0, true);
      c.setUint16(12, time, true);
      c.setUint16(14, date, true);
      c.setUint32(16, w.crc, true);
      c.setUint32(20, w.size, true);
      c.setUint32(24, w.size, true);
      c.setUint16(28, e.bytes.length, true);
      // extra, comment, disk, internal and external attributes: zero
      c.setUint32(42, w.offset, true);
      yield new Uint8Array(c.buffer);
      yield e.bytes;
      offset += CENTRAL + e.bytes.length;
    }
    const end = new DataView(new ArrayBuffer(END));
    end.setUint32(0, 0x06054b50, true);
    end.setUint16(8, entries.length, true);
    end.setUint16(10, entries.length, true);
    end.setUint32(12, offset - dirStart, true);
    end.setUint32(16, dirStart, true);
    yield new Uint8Array(end.buffer);
  }
  const it = parts();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}

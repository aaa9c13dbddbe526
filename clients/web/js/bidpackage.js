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
  if (!name || name === FORM_NAME || name.startsWith("/") || name.includes("\\") ||
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
 * @param {{now?: Date}} [options]
 * @returns {{size: number, names: string[], stream: () => ReadableStream<Uint8Array>}}
 */
export function bidPackage(form, files, options = {}) {
  // Sorted keys, as the CLI writes the form (json.dumps(sort_keys=True)); the reader does not mind.
  const sorted = Object.fromEntries(Object.keys(form).sort().map((k) => [k, form[k]]));
  const formBlob = new Blob([encoder.encode(JSON.stringify(sorted))]);
  /** @type {Entry[]} */
  const entries = [{ name: FORM_NAME, bytes: encoder.encode(FORM_NAME), source: formBlob }];
  const seen = new Set([FORM_NAME]);
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
    names: entries.slice(1).map((e) => e.name),
    stream: () => packageStream(entries, time, date),
  };
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

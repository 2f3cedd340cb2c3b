import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import { openZip } from "../../lib/io/zip.ts";

interface TestEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Put sizes and offset in a ZIP64 extra field, with 0xFFFFFFFF in the header fields. */
  zip64?: boolean;
  /** Padding in the local header's extra field only (torch aligns tensor data this way). */
  localPadding?: number;
}

/** Builds a ZIP archive byte by byte, per the PKWARE APPNOTE (sizes little-endian). */
function buildZip(entries: TestEntry[], options: { zip64End?: boolean; comment?: string } = {}) {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    offset += bytes.length;
  };
  const central: Uint8Array[] = [];
  for (const entry of entries) {
    const name = new TextEncoder().encode(entry.name);
    const stored = entry.deflate ? new Uint8Array(deflateRawSync(entry.data)) : entry.data;
    const localOffset = offset;
    const padding = entry.localPadding ?? 0;
    const local = new Uint8Array(30 + name.length + (padding ? 4 + padding : 0));
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, entry.deflate ? 8 : 0, true);
    lv.setUint32(18, stored.length, true);
    lv.setUint32(22, entry.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, padding ? 4 + padding : 0, true);
    local.set(name, 30);
    if (padding) {
      lv.setUint16(30 + name.length, 0x4246, true), lv.setUint16(32 + name.length, padding, true);
    }
    push(local);
    push(stored);

    const extra = entry.zip64 ? new Uint8Array(4 + 24) : new Uint8Array(0);
    if (entry.zip64) {
      const ev = new DataView(extra.buffer);
      ev.setUint16(0, 0x0001, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(entry.data.length), true);
      ev.setBigUint64(12, BigInt(stored.length), true);
      ev.setBigUint64(20, BigInt(localOffset), true);
    }
    const header = new Uint8Array(46 + name.length + extra.length);
    const hv = new DataView(header.buffer);
    hv.setUint32(0, 0x02014b50, true);
    hv.setUint16(10, entry.deflate ? 8 : 0, true);
    hv.setUint32(20, entry.zip64 ? 0xffffffff : stored.length, true);
    hv.setUint32(24, entry.zip64 ? 0xffffffff : entry.data.length, true);
    hv.setUint16(28, name.length, true);
    hv.setUint16(30, extra.length, true);
    hv.setUint32(42, entry.zip64 ? 0xffffffff : localOffset, true);
    header.set(name, 46);
    header.set(extra, 46 + name.length);
    central.push(header);
  }
  const centralOffset = offset;
  for (const header of central) push(header);
  const centralSize = offset - centralOffset;
  if (options.zip64End) {
    const recordOffset = offset;
    const record = new Uint8Array(56);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setBigUint64(24, BigInt(entries.length), true);
    rv.setBigUint64(32, BigInt(entries.length), true);
    rv.setBigUint64(40, BigInt(centralSize), true);
    rv.setBigUint64(48, BigInt(centralOffset), true);
    push(record);
    const locator = new Uint8Array(20);
    const locv = new DataView(locator.buffer);
    locv.setUint32(0, 0x07064b50, true);
    locv.setBigUint64(8, BigInt(recordOffset), true);
    locv.setUint32(16, 1, true);
    push(locator);
  }
  const comment = new TextEncoder().encode(options.comment ?? "");
  const end = new Uint8Array(22 + comment.length);
  const endView = new DataView(end.buffer);
  endView.setUint32(0, 0x06054b50, true);
  endView.setUint16(8, options.zip64End ? 0xffff : entries.length, true);
  endView.setUint16(10, options.zip64End ? 0xffff : entries.length, true);
  endView.setUint32(12, options.zip64End ? 0xffffffff : centralSize, true);
  endView.setUint32(16, options.zip64End ? 0xffffffff : centralOffset, true);
  endView.setUint16(20, comment.length, true);
  end.set(comment, 22);
  push(end);
  const out = new Uint8Array(offset);
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

async function withZipFile(bytes: Uint8Array, run: (path: string) => Promise<void>) {
  const path = await Deno.makeTempFile({ prefix: "mopeft_zip_", suffix: ".zip" });
  try {
    await Deno.writeFile(path, bytes);
    await run(path);
  } finally {
    await Deno.remove(path);
  }
}

const text = (value: string) => new TextEncoder().encode(value);

Deno.test("openZip() lists entries and reads stored ones, whole and by range", async () => {
  const bytes = buildZip([
    { name: "a/data.pkl", data: text("hello pickle") },
    { name: "a/data/0", data: new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), localPadding: 37 },
  ], { comment: "a trailing archive comment" });
  await withZipFile(bytes, async (path) => {
    const zip = await openZip(path);
    try {
      assert.deepEqual(zip.entries.map((e) => e.name), ["a/data.pkl", "a/data/0"]);
      assert.equal(new TextDecoder().decode(await zip.readEntry("a/data.pkl")), "hello pickle");
      assert.deepEqual([...await zip.readRange("a/data/0", 3, 4)], [3, 4, 5, 6]);
      assert.equal(zip.entry("missing"), undefined);
      await assert.rejects(
        zip.readRange("a/data/0", 8, 4),
        /byte range \[8, 12\) lies outside entry "a\/data\/0"/,
      );
    } finally {
      zip.close();
    }
  });
});

Deno.test("openZip() reads ZIP64 end records and extra fields", async () => {
  const bytes = buildZip([
    { name: "x", data: text("first") },
    { name: "y", data: text("second entry"), zip64: true },
  ], { zip64End: true });
  await withZipFile(bytes, async (path) => {
    const zip = await openZip(path);
    try {
      assert.equal(zip.entries.length, 2);
      const y = zip.entry("y")!;
      assert.equal(y.uncompressedSize, 12);
      assert.equal(y.localHeaderOffset, 30 + 1 + 5);
      assert.equal(new TextDecoder().decode(await zip.readEntry(y)), "second entry");
    } finally {
      zip.close();
    }
  });
});

Deno.test("openZip() inflates deflated entries but refuses ranges inside them", async () => {
  const data = text("compress me ".repeat(100));
  await withZipFile(buildZip([{ name: "d", data, deflate: true }]), async (path) => {
    const zip = await openZip(path);
    try {
      assert.ok(zip.entry("d")!.compressedSize < data.length);
      assert.deepEqual(await zip.readEntry("d"), data);
      await assert.rejects(
        zip.readRange("d", 0, 4),
        /entry "d" is compressed \(method 8\); tensor data must be stored uncompressed/,
      );
    } finally {
      zip.close();
    }
  });
});

Deno.test("openZip() reads the ZIP64 archive torch.save writes", async () => {
  const fixture = new URL("../../fixtures/pth/sam_like.pth", import.meta.url);
  const zip = await openZip(decodeURIComponent(fixture.pathname));
  try {
    assert.ok(zip.entries.some((e) => e.name === "sam_like/data.pkl"));
    assert.ok(zip.entries.every((e) => e.method === 0));
  } finally {
    zip.close();
  }
});

Deno.test("openZip() rejects garbage, truncated archives and missing files", async () => {
  const prefix = /^(TypeError|RangeError|Error): Cannot read ZIP archive "[^"]+": /;
  await withZipFile(text("definitely not a zip file, just some text"), async (path) => {
    await assert.rejects(openZip(path), (e: Error) => {
      assert.match(String(e), prefix);
      assert.match(
        e.message,
        /not a ZIP archive \(no end of central directory record; truncated\?\)$/,
      );
      return true;
    });
  });
  const whole = buildZip([{ name: "x", data: new Uint8Array(100) }]);
  await withZipFile(whole.subarray(0, 90), async (path) => {
    await assert.rejects(openZip(path), /no end of central directory record/);
  });
  // A file cut inside an entry's data: the directory survives but points past the end.
  const shifted = buildZip([{ name: "x", data: new Uint8Array(100) }]);
  const cut = new Uint8Array(shifted.length - 50);
  cut.set(shifted.subarray(0, 31 + 50));
  cut.set(shifted.subarray(31 + 100), 31 + 50);
  await withZipFile(cut, async (path) => {
    await assert.rejects(openZip(path), /central directory lies outside the file/);
  });
  await assert.rejects(openZip("/nonexistent.zip"), /: file not found$/);
});

import assert from "node:assert/strict";
import { openSafetensors, readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";

/** A safetensors file from a header object and a data section, with the length prefix. */
function buildFile(header: unknown, data: Uint8Array = new Uint8Array(), lengthOverride?: bigint) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_safetensors_" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `bytes` and expects openSafetensors() to fail with a message matching `pattern`. */
async function assertRejects(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await withTempDir(async (dir) => {
    const path = `${dir}/bad.safetensors`;
    await Deno.writeFile(path, bytes);
    await assert.rejects(openSafetensors(path), (error: Error) => {
      assert.match(error.message, new RegExp(`^Cannot read safetensors "${path}": `));
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("\n"), "one line");
      return true;
    });
  });
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

Deno.test("writeSafetensors() then readSafetensors() round-trips names, shapes and values", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    const summary = await writeSafetensors(path, [
      { name: "b.weight", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-30, -0, 7]) },
      { name: "a.bias", shape: [3], data: () => Promise.resolve(new Float32Array([9, 8, 7])) },
      { name: "scalar", shape: [], data: new Float32Array([0.25]) },
      { name: "empty", shape: [0, 4], data: new Float32Array(0) },
    ], { metadata: { format: "pt", note: "test" } });
    assert.deepEqual(summary.tensors, 4);
    assert.deepEqual(summary.values, 10);
    assert.equal(summary.bytes, (await Deno.stat(path)).size);

    const file = await openSafetensors(path);
    try {
      assert.deepEqual(file.names, ["a.bias", "b.weight", "empty", "scalar"]);
      assert.deepEqual(file.metadata, { format: "pt", note: "test" });
      assert.equal(file.info("b.weight").dtype, "F32");
      assert.deepEqual(file.info("empty").shape, [0, 4]);
    } finally {
      file.close();
    }
    const tensors = await readSafetensors(path);
    assert.deepEqual(tensors.get("b.weight")?.shape, [2, 3]);
    assert.deepEqual([...tensors.get("b.weight")!.data], [1, -2, 3.5, Math.fround(1e-30), -0, 7]);
    assert.ok(Object.is(tensors.get("b.weight")!.data[4], -0));
    assert.deepEqual([...tensors.get("a.bias")!.data], [9, 8, 7]);
    assert.deepEqual([...tensors.get("scalar")!.data], [0.25]);
    assert.equal(tensors.get("empty")!.data.length, 0);
  });
});

Deno.test("writeSafetensors() pads the header to 8 bytes with spaces and sorts keys", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x.safetensors`;
    const tensors = new Map([
      ["z", { shape: [1], data: new Float32Array([1]) }],
      ["a", { shape: [1], data: new Float32Array([2]) }],
    ]);
    await writeSafetensors(path, tensors);
    const bytes = await Deno.readFile(path);
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(length % 8, 0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + length));
    assert.match(header, /^\{"a":\{"dtype":"F32","shape":\[1\],"data_offsets":\[0,4\]\},"z":/);
    assert.match(header, /\} *$/);
    assert.deepEqual([...new Float32Array(bytes.slice(8 + length).buffer)], [2, 1]);
  });
});

Deno.test("writeSafetensors() leaves an existing file untouched when a tensor fails", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/keep.safetensors`;
    await Deno.writeTextFile(path, "old content");
    await assert.rejects(
      writeSafetensors(path, [
        { name: "a", shape: [2], data: new Float32Array([1, 2]) },
        { name: "b", shape: [3], data: () => new Float32Array(2) },
      ]),
      /^TypeError: Cannot write safetensors ".*keep.safetensors": tensor "b" has 2 values, expected 3 float32 values for shape \[3\]$/,
    );
    assert.equal(await Deno.readTextFile(path), "old content");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["keep.safetensors"]);
  });
});

Deno.test("writeSafetensors() rejects duplicate names and wrong value counts", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x.safetensors`;
    await assert.rejects(
      writeSafetensors(path, [
        { name: "a", shape: [1], data: new Float32Array(1) },
        { name: "a", shape: [1], data: new Float32Array(1) },
      ]),
      /tensor "a" is given twice/,
    );
    await assert.rejects(
      writeSafetensors(path, [{ name: "a", shape: [2, 2], data: new Float32Array(3) }]),
      /tensor "a" has 3 values, expected 4 for shape \[2,2\]/,
    );
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});

Deno.test("readSafetensors() decodes F16 and BF16 exactly", async () => {
  // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, inf, 0.333
  const half = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0x3555]);
  // BF16: 1, pi rounded, -1e38ish, smallest subnormal, -inf
  const bf16 = new Uint16Array([0x3f80, 0x4049, 0xfe96, 0x0001, 0xff80]);
  const halfBytes = new Uint8Array(half.buffer);
  const bfBytes = new Uint8Array(bf16.buffer);
  const data = new Uint8Array(halfBytes.length + bfBytes.length);
  data.set(halfBytes);
  data.set(bfBytes, halfBytes.length);
  const bytes = buildFile({
    h: { dtype: "F16", shape: [8], data_offsets: [0, 16] },
    b: { dtype: "BF16", shape: [5], data_offsets: [16, 26] },
  }, data);
  await withTempDir(async (dir) => {
    const path = `${dir}/half.safetensors`;
    await Deno.writeFile(path, bytes);
    const tensors = await readSafetensors(path);
    const h = [...tensors.get("h")!.data];
    assert.deepEqual(h.slice(0, 6), [1, -2, 65504, 2 ** -24, 2 ** -14, -0]);
    assert.ok(Object.is(h[5], -0));
    assert.equal(h[6], Infinity);
    assert.equal(h[7], 0.333251953125);
    const b = [...tensors.get("b")!.data];
    assert.deepEqual(b, [1, 3.140625, -(2 ** 126) * (1 + 0x16 / 128), 2 ** -133, -Infinity]);
  });
});

Deno.test("readSafetensors() converts U8, I32 and I64 tensors to float32", async () => {
  const data = new Uint8Array(3 + 1 + 8 + 16);
  data.set([0, 7, 255]);
  new DataView(data.buffer).setInt32(4, -5, true);
  new DataView(data.buffer).setBigInt64(12, 123456789n, true);
  new DataView(data.buffer).setBigInt64(20, -3n, true);
  const bytes = buildFile({
    u: { dtype: "U8", shape: [3], data_offsets: [0, 3] },
    i: { dtype: "I32", shape: [1], data_offsets: [4, 8] },
    l: { dtype: "I64", shape: [2], data_offsets: [12, 28] },
  }, data);
  await withTempDir(async (dir) => {
    const path = `${dir}/ints.safetensors`;
    await Deno.writeFile(path, bytes);
    const tensors = await readSafetensors(path);
    assert.deepEqual([...tensors.get("u")!.data], [0, 7, 255]);
    assert.deepEqual([...tensors.get("i")!.data], [-5]);
    assert.deepEqual([...tensors.get("l")!.data], [Math.fround(123456789), -3]);
  });
});

Deno.test("openSafetensors() reads tensors by offset on demand", async () => {
  const bytes = buildFile({
    __metadata__: { k: "v" },
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [1, 1], data_offsets: [8, 12] },
  }, f32([1, 2, 3]));
  await withTempDir(async (dir) => {
    const path = `${dir}/lazy.safetensors`;
    await Deno.writeFile(path, bytes);
    const file = await openSafetensors(path);
    try {
      // Concurrent reads share one file handle; they must not interleave their seeks.
      const [b, a] = await Promise.all([file.read("b"), file.read("a")]);
      assert.deepEqual([...a], [1, 2]);
      assert.deepEqual([...b], [3]);
      assert.equal(file.has("c"), false);
      await assert.rejects(file.read("c"), /: no tensor named "c"$/);
    } finally {
      file.close();
    }
  });
});

Deno.test("readSafetensors() rejects a missing file", async () => {
  await assert.rejects(
    openSafetensors("/nonexistent/x.safetensors"),
    /^Error: Cannot read safetensors "\/nonexistent\/x.safetensors": file not found$/,
  );
});

Deno.test("readSafetensors() rejects a file too short for the length", async () => {
  await assertRejects(new Uint8Array(5), /the file is 5 bytes, too short to hold a header length/);
});

Deno.test("readSafetensors() rejects garbage", async () => {
  const garbage = new TextEncoder().encode("this is not a safetensors file at all");
  await assertRejects(garbage, /header length \d+ exceeds the file size 37$/);
});

Deno.test("readSafetensors() rejects a header length above 100 MB", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/huge.safetensors`;
    const lengthBytes = new Uint8Array(8);
    new DataView(lengthBytes.buffer).setBigUint64(0, 150_000_000n, true);
    await Deno.writeFile(path, lengthBytes);
    await Deno.truncate(path, 200_000_008); // sparse: no 200 MB actually written
    await assert.rejects(
      openSafetensors(path),
      /: header length 150000000 exceeds the 100000000-byte limit$/,
    );
  });
});

Deno.test("readSafetensors() rejects a header length of zero", async () => {
  await assertRejects(new Uint8Array(16), /header length is 0$/);
});

Deno.test("readSafetensors() rejects a header length beyond the file size", async () => {
  const bytes = buildFile({}, new Uint8Array(), 123456789n);
  await assertRejects(bytes, /: header length 123456789 exceeds the file size 10$/);
});

Deno.test("readSafetensors() rejects a truncated file", async () => {
  const full = buildFile(
    { a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } },
    f32([1, 2, 3, 4]),
  );
  await assertRejects(
    full.subarray(0, full.length - 5),
    /data_offsets \[0,16\] lie outside the 11-byte data section/,
  );
  await assertRejects(full.subarray(0, 20), /header length \d+ exceeds the file size 20/);
});

Deno.test("readSafetensors() rejects a header that is not UTF-8 JSON", async () => {
  const bad = new Uint8Array(8 + 4);
  bad[0] = 4;
  bad.set([0xff, 0xfe, 0x7b, 0x7d], 8);
  await assertRejects(bad, /the header is not valid UTF-8/);
  const notJson = new Uint8Array(8 + 5);
  notJson[0] = 5;
  notJson.set(new TextEncoder().encode("{abc}"), 8);
  await assertRejects(notJson, /the header is not valid JSON \(/);
  const array = new Uint8Array(8 + 2);
  array[0] = 2;
  array.set(new TextEncoder().encode("[]"), 8);
  await assertRejects(array, /the header is not a JSON object/);
});

Deno.test("readSafetensors() rejects an unknown dtype", async () => {
  const bytes = buildFile(
    { a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } },
    new Uint8Array(1),
  );
  await assertRejects(bytes, /tensor "a" has unsupported dtype "F8_E4M3" \(supported: F64, F32/);
});

Deno.test("readSafetensors() rejects bad shapes, offsets and metadata", async () => {
  await assertRejects(
    buildFile({ a: { dtype: "F32", shape: [2, -1], data_offsets: [0, 0] } }),
    /tensor "a" shape \[2,-1\] is not a list of non-negative integers/,
  );
  await assertRejects(
    buildFile({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)),
    /tensor "a" data_offsets \[4,0\] are not \[begin, end\]/,
  );
  await assertRejects(
    buildFile({ a: "nope" }),
    /tensor "a" is not a JSON object/,
  );
  await assertRejects(
    buildFile({ __metadata__: { n: 1 } }),
    /__metadata__ is not a map from strings to strings/,
  );
});

Deno.test("readSafetensors() rejects offsets that do not match the shape", async () => {
  const bytes = buildFile(
    { "a.b": { dtype: "F32", shape: [2, 2], data_offsets: [0, 12] } },
    new Uint8Array(16),
  );
  await assertRejects(
    bytes,
    /: tensor "a.b" data_offsets \[0,12\] do not match shape \[2,2\] \(F32 needs 16 bytes\)$/,
  );
});

Deno.test("readSafetensors() rejects offsets outside the data section", async () => {
  const bytes = buildFile(
    { a: { dtype: "F32", shape: [2], data_offsets: [8, 16] } },
    new Uint8Array(12),
  );
  await assertRejects(
    bytes,
    /tensor "a" data_offsets \[8,16\] lie outside the 12-byte data section/,
  );
});

Deno.test("readSafetensors() rejects overlapping offsets", async () => {
  const bytes = buildFile({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F16", shape: [2], data_offsets: [6, 10] },
  }, new Uint8Array(12));
  await assertRejects(bytes, /: tensors "a" and "b" overlap$/);
});

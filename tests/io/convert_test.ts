import { runCli } from "../_cli.ts";
import assert from "node:assert/strict";
import { convertPthToSafetensors } from "../../lib/io/convert.ts";
import { openSafetensors } from "../../lib/io/safetensors.ts";

const repoRoot = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const fixture = (name: string) => `${repoRoot}fixtures/pth/${name}`;
const expected: Record<string, Record<string, { shape: number[]; values: number[] }>> = JSON
  .parse(await Deno.readTextFile(fixture("expected.json")));

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_convert_" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `mopeft convert ...args`. */
function runConvert(...args: string[]) {
  return runCli(["convert", ...args]);
}

Deno.test("convertPthToSafetensors() keeps every key and value", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/sam_like.safetensors`;
    const progress: number[] = [];
    const summary = await convertPthToSafetensors(fixture("sam_like.pth"), out, {
      onProgress: ({ index, total }) => progress.push(index / total),
    });
    const want = expected["sam_like.pth"]!;
    const names = Object.keys(want);
    assert.equal(summary.tensors, names.length);
    assert.equal(summary.values, names.reduce((sum, n) => sum + want[n]!.values.length, 0));
    assert.equal(summary.bytes, (await Deno.stat(out)).size);
    assert.deepEqual(progress, names.map((_, i) => (i + 1) / names.length));

    const file = await openSafetensors(out);
    try {
      assert.deepEqual(file.names, [...names].sort());
      assert.deepEqual(file.metadata, { format: "pt" });
      for (const name of names) {
        assert.equal(file.info(name).dtype, "F32");
        assert.deepEqual(file.info(name).shape, want[name]!.shape, name);
        assert.deepEqual([...await file.read(name)], want[name]!.values, name);
      }
    } finally {
      file.close();
    }
  });
});

Deno.test("convertPthToSafetensors() refuses to write over its input", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/model.pth`;
    await Deno.copyFile(fixture("wrapped.pth"), path);
    await assert.rejects(
      convertPthToSafetensors(path, path),
      /^Error: Cannot convert "[^"]+": the output is the input file$/,
    );
    assert.deepEqual(await Deno.readFile(path), await Deno.readFile(fixture("wrapped.pth")));
  });
});

Deno.test("mopeft convert writes safetensors and prints a JSON summary", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/wrapped.safetensors`;
    const result = await runConvert(fixture("wrapped.pth"), out);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.tensors, 2);
    assert.equal(summary.values, 4 * 2 * 2 * 2 + 2);
    assert.equal(summary.out, out);
    assert.match(result.stderr, /^convert: 2 tensors from .*wrapped.pth\n/);
    assert.match(result.stderr, /convert: 100% \(2\/2 tensors\)\n/);
    const file = await openSafetensors(out);
    try {
      const want = expected["wrapped.pth"]!["mask_decoder.output_upscaling.0.bias"]!.values;
      assert.deepEqual([...await file.read("mask_decoder.output_upscaling.0.bias")], want);
    } finally {
      file.close();
    }
  });
});

Deno.test("mopeft convert fails with one line and exit 1 on bad input, keeping the output", async () => {
  await withTempDir(async (dir) => {
    const garbage = `${dir}/garbage.pth`;
    await Deno.writeTextFile(garbage, "this is not a checkpoint");
    const truncated = `${dir}/truncated.pth`;
    await Deno.writeFile(
      truncated,
      (await Deno.readFile(fixture("sam_like.pth"))).subarray(0, 3000),
    );
    const target = `${dir}/existing.safetensors`;
    await Deno.writeTextFile(target, "keep me");

    const cases: Array<[string[], RegExp]> = [
      [
        [`${dir}/missing.pth`, target],
        /^mopeft: Cannot read PyTorch checkpoint "[^"]+missing.pth": file not found\n$/,
      ],
      [
        [garbage, target],
        /^mopeft: Cannot read PyTorch checkpoint "[^"]+garbage.pth": not a PyTorch checkpoint \(no ZIP signature at the start\)\n$/,
      ],
      [
        [truncated, target],
        /^mopeft: Cannot read PyTorch checkpoint "[^"]+truncated.pth": not a ZIP archive \(no end of central directory record; truncated\?\)\n$/,
      ],
      [
        [fixture("numpy.pth"), target],
        /^mopeft: Cannot read PyTorch checkpoint "[^"]+numpy.pth": unsupported pickle global numpy.core.multiarray._reconstruct\n$/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => runConvert(...args)));
    results.forEach((result, i) => {
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, cases[i]![1]);
    });
    assert.equal(await Deno.readTextFile(target), "keep me");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "existing.safetensors",
      "garbage.pth",
      "truncated.pth",
    ]);
  });
});

Deno.test("mopeft convert exits 2 when an argument is missing", async () => {
  const result = await runConvert(fixture("sam_like.pth"));
  assert.equal(result.code, 2);
  assert.match(result.stderr, /missing required argument 'out'/);
});

import assert from "node:assert/strict";
import { readPth } from "../../lib/io/pth.ts";

// Fixtures and expected values come from scripts/make_pth_fixtures.py (torch.save).
const fixture = (name: string) =>
  decodeURIComponent(new URL(`../../fixtures/pth/${name}`, import.meta.url).pathname);

interface Expected {
  shape: number[];
  dtype: string;
  values: number[];
}
const expected: Record<string, Record<string, Expected>> = JSON.parse(
  await Deno.readTextFile(fixture("expected.json")),
);

const TORCH_TO_DTYPE: Record<string, string> = {
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  float64: "F64",
  int64: "I64",
};

async function assertMatchesExpected(file: string): Promise<void> {
  const checkpoint = await readPth(fixture(file));
  try {
    const want = expected[file]!;
    assert.deepEqual(checkpoint.names, Object.keys(want), "keys unchanged, in order");
    for (const [name, tensor] of Object.entries(want)) {
      const info = checkpoint.info(name);
      assert.deepEqual(info.shape, tensor.shape, name);
      assert.equal(info.dtype, TORCH_TO_DTYPE[tensor.dtype], name);
      // torch's .float() values are float32, printed exactly by JSON: compare bit for bit.
      assert.deepEqual([...await checkpoint.read(name)], tensor.values, name);
    }
  } finally {
    checkpoint.close();
  }
}

Deno.test("readPth() reads every tensor of a torch.save state dict exactly", async () => {
  await assertMatchesExpected("sam_like.pth");
});

Deno.test("readPth() follows strides of a transposed tensor", async () => {
  const checkpoint = await readPth(fixture("sam_like.pth"));
  try {
    const info = checkpoint.info("image_encoder.blocks.0.mlp.lin1.weight");
    assert.deepEqual(info.shape, [32, 8]);
    assert.deepEqual(info.strides, [1, 32]);
    const values = await checkpoint.read("image_encoder.blocks.0.mlp.lin1.weight");
    const want = expected["sam_like.pth"]!["image_encoder.blocks.0.mlp.lin1.weight"]!.values;
    assert.equal(values[1 * 8 + 0], want[8]); // row 1, column 0
  } finally {
    checkpoint.close();
  }
});

Deno.test("readPth() honours storage offsets of views sharing one storage", async () => {
  const checkpoint = await readPth(fixture("sam_like.pth"));
  try {
    const a = checkpoint.info("mask_decoder.iou_token.weight");
    const b = checkpoint.info("mask_decoder.mask_tokens.weight");
    assert.equal(a.storageKey, b.storageKey);
    assert.equal(a.storageOffset, 10);
    assert.equal(b.storageOffset, 6);
    assert.deepEqual(b.strides, [6, 1]);
    // shared = arange(40) * 0.5 - 3; a = shared[10:20]; b = shared[5:35].view(5, 6)[:, 1:4]
    const shared = (i: number) => i * 0.5 - 3;
    const wantA = Array.from({ length: 10 }, (_, i) => shared(10 + i));
    const wantB = [0, 1, 2, 3, 4].flatMap((row) =>
      [1, 2, 3].map((col) => shared(5 + row * 6 + col))
    );
    assert.deepEqual([...await checkpoint.read("mask_decoder.iou_token.weight")], wantA);
    assert.deepEqual([...await checkpoint.read("mask_decoder.mask_tokens.weight")], wantB);
  } finally {
    checkpoint.close();
  }
});

Deno.test("readPth() decodes F16, BF16, F64, int64, 0-d and empty tensors", async () => {
  const checkpoint = await readPth(fixture("sam_like.pth"));
  try {
    const half = await checkpoint.read("image_encoder.blocks.0.attn.rel_pos_h");
    assert.deepEqual([...half.slice(0, 3)], [65504, 2 ** -24, -0]);
    assert.ok(Object.is(half[2], -0));
    const bf16 = await checkpoint.read("image_encoder.blocks.0.attn.rel_pos_w");
    assert.equal(bf16[0], 3.00405527047391e38); // bfloat16 nearest to 3e38
    assert.equal(checkpoint.info("mask_decoder.scale").shape.length, 0);
    assert.deepEqual([...await checkpoint.read("mask_decoder.scale")], [0.75]);
    assert.deepEqual([...await checkpoint.read("mask_decoder.num_batches_tracked")], [12345]);
    assert.deepEqual(checkpoint.info("mask_decoder.empty").shape, [0, 3]);
    assert.equal((await checkpoint.read("mask_decoder.empty")).length, 0);
  } finally {
    checkpoint.close();
  }
});

Deno.test('readPth() unwraps a state dict stored under "model" (with nn.Parameter values)', async () => {
  await assertMatchesExpected("wrapped.pth");
});

Deno.test("readPth() names the unsupported global of a pickle holding numpy arrays", async () => {
  await assert.rejects(
    readPth(fixture("numpy.pth")),
    /^TypeError: Cannot read PyTorch checkpoint "[^"]*numpy.pth": unsupported pickle global numpy.core.multiarray._reconstruct$/,
  );
});

Deno.test("readPth() rejects a dict without tensors", async () => {
  await assert.rejects(
    readPth(fixture("no_tensors.pth")),
    /no_tensors.pth": the checkpoint is a dict with keys \["epoch", "lr"\] whose values are not all tensors, and it has no "model" or "state_dict" dict of tensors$/,
  );
});

Deno.test("readPth() rejects legacy checkpoints, garbage and missing files", async () => {
  await assert.rejects(
    readPth(fixture("legacy.pth")),
    /legacy.pth": this is a legacy \(pre-1.6, non-ZIP\) PyTorch checkpoint, which is not supported/,
  );
  const garbage = await Deno.makeTempFile({ suffix: ".pth" });
  try {
    await Deno.writeTextFile(garbage, "not a checkpoint");
    await assert.rejects(
      readPth(garbage),
      /: not a PyTorch checkpoint \(no ZIP signature at the start\)$/,
    );
  } finally {
    await Deno.remove(garbage);
  }
  await assert.rejects(
    readPth("/nonexistent/model.pth"),
    /^Error: Cannot read PyTorch checkpoint "\/nonexistent\/model.pth": file not found$/,
  );
});

Deno.test("readPth() rejects a truncated checkpoint with one line", async () => {
  const bytes = await Deno.readFile(fixture("sam_like.pth"));
  const path = await Deno.makeTempFile({ suffix: ".pth" });
  try {
    await Deno.writeFile(path, bytes.subarray(0, 4000));
    await assert.rejects(readPth(path), (error: Error) => {
      assert.match(
        error.message,
        /^Cannot read PyTorch checkpoint "[^"]+": not a ZIP archive \(no end of central directory record; truncated\?\)$/,
      );
      return true;
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("PthCheckpoint.read() rejects unknown names", async () => {
  const checkpoint = await readPth(fixture("sam_like.pth"));
  try {
    await assert.rejects(checkpoint.read("nope"), /: no tensor named "nope"$/);
  } finally {
    checkpoint.close();
  }
});

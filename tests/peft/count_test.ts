/** Parameter counts for SAM ViT-B, computed from shapes only (no vit_b tensor is allocated). */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { architectureOf, VIT_B_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { countParameters } from "../../lib/peft/count.ts";
import { METHOD_NAMES } from "../../lib/peft/registry.ts";

const VIT_B = architectureOf(VIT_B_SIZE);
const SAM_VIT_B_PARAMS = 93_735_728;

Deno.test("countParameters() gives 1,189,632 for vit_b adapters (D_mid 64) and 294,912 for LoRA r=8", () => {
  const adapter = countParameters(VIT_B, validatePeftConfig({ method: "adapter" }), 4);
  assertEquals(adapter.byGroup.adapter, 1_189_632);
  assertEquals(adapter.peftParams, 1_189_632);
  assertEquals(adapter.totalParams, SAM_VIT_B_PARAMS + 1_189_632);
  const lora = countParameters(VIT_B, validatePeftConfig({ method: "lora" }), 4);
  assertEquals(lora.byGroup.lora, 294_912);
  const mosa = countParameters(VIT_B, validatePeftConfig({ method: "mosa" }), 4);
  assertEquals(mosa.byGroup.adapter, 1_189_632, "MoSA stores one plain adapter");
});

Deno.test("countParameters(): MoSA stores one adapter and trains K copies of each split projection", () => {
  const adapter = countParameters(VIT_B, validatePeftConfig({ method: "adapter" }), 4);
  const up = 768 * 64 + 768, down = 64 * 768 + 64;
  for (
    const [share, split] of [["down", up], ["up", down], ["none", up + down]] as const
  ) {
    const mosa = countParameters(
      VIT_B,
      validatePeftConfig({ method: "mosa", mosaShare: share }),
      4,
    );
    assertEquals(mosa.peftParams, adapter.peftParams, `share ${share}: stored`);
    assertEquals(mosa.trainableParams, adapter.trainableParams);
    // 12 blocks x K = 4 copies of the split projection(s), in place of the one stored.
    assertEquals(mosa.byGroup.mosaExperts, 12 * 4 * split, `share ${share}: copies`);
    assertEquals(mosa.trainingParams, adapter.trainingParams + 12 * 3 * split);
  }
  assertEquals(adapter.trainingParams, adapter.trainableParams);
});

Deno.test("countParameters() counts prefixes flat and the reparameterisation apart", () => {
  const prefix = countParameters(VIT_B, validatePeftConfig({ method: "prefix" }), 4);
  assertEquals(prefix.byGroup.prefix, 12 * 2 * 20 * 768);
  // 12 input embeddings [20, 768] + Linear(768, 64) + Linear(64, 1536).
  assertEquals(prefix.byGroup.prefixReparam, 12 * 20 * 768 + (64 * 768 + 64) + (1536 * 64 + 1536));
  assertEquals(prefix.peftParams, prefix.byGroup.prefix);
  const vpt = countParameters(VIT_B, validatePeftConfig({ method: "vpt" }), 4);
  assertEquals(vpt.byGroup.vpt, 2 * 20 * 768);
  assertEquals(vpt.byGroup.prefix, 0);
});

Deno.test("countParameters() for mopeft adds one gate (D + 1) per module per block", () => {
  const count = countParameters(VIT_B, validatePeftConfig({ method: "mopeft" }), 4);
  assertEquals(count.byGroup.gates, 3 * 12 * 769);
  assertEquals(
    count.peftParams,
    294_912 + 12 * 2 * 20 * 768 + 1_189_632 + 3 * 12 * 769,
  );
});

Deno.test("countParameters(): the decoder is trained by every method, the encoder only by full", () => {
  for (const method of METHOD_NAMES) {
    const count = countParameters(VIT_B, validatePeftConfig({ method }), 4);
    assert(count.byGroup.decoder > 3_000_000, `${method} decoder ${count.byGroup.decoder}`);
    assertEquals(count.byGroup.encoder > 0, method === "full");
    assertEquals(
      count.trainableParams,
      count.peftParams + count.byGroup.decoder + count.byGroup.encoder,
    );
  }
});

/**
 * biasedSoftmax() and its gradients w.r.t. the logits and both biases equal tfjs's composed
 * softmax of the biased logits on every backend (the SIMD kernels on wasm), with and without
 * prefix logits; biasedSoftmaxBackward() gives the same step from a given delta;
 * biasedSoftmaxWithStats() gives the same probabilities with each row's max and 1 / sum, and
 * biasedExp() gives them again from those, bit for bit (on webgpu to the last place).
 */
import { type Tensor, tf } from "../../lib/backend/tf.ts";
import {
  biasedExp,
  biasedSoftmax,
  biasedSoftmaxBackward,
  biasedSoftmaxWithStats,
} from "../../lib/encoder/biased_softmax.ts";
import { assertAllClose, availableBackends, onBackend } from "../_backends.ts";

const [H, W] = [3, 5];

function composed(logits: Tensor, biasH: Tensor, biasW: Tensor, prefix: number): Tensor {
  return tf.tidy(() => {
    const rows = logits.shape[0]!;
    const bias = tf.add(biasH.reshape([rows, H, 1]), biasW.reshape([rows, 1, W]))
      .reshape([rows, H * W]);
    const full = prefix > 0 ? tf.concat([tf.zeros([rows, prefix]), bias], 1) : bias;
    return tf.softmax(tf.add(logits, full));
  });
}

for (const backend of await availableBackends()) {
  for (const prefix of [0, 3]) {
    Deno.test(`biasedSoftmax on ${backend}, prefix ${prefix}: values and gradients equal tfjs's composed softmax`, async () => {
      await onBackend(backend);
      const rows = 7;
      const logits = tf.randomNormal([rows, prefix + H * W], 0, 3, "float32", 1);
      const biasH = tf.randomNormal([rows, H], 0, 1, "float32", 2);
      const biasW = tf.randomNormal([rows, W], 0, 1, "float32", 3);
      const weighting = tf.randomNormal([rows, prefix + H * W], 0, 1, "float32", 4);
      const ours = biasedSoftmax(logits, biasH, biasW, [H, W]);
      const theirs = composed(logits, biasH, biasW, prefix);
      assertAllClose(await ours.data(), await theirs.data(), 1e-6, "probabilities");
      const loss =
        (f: typeof composed | typeof biasedSoftmax) => (a: Tensor, b: Tensor, c: Tensor) =>
          tf.sum(tf.mul(
            f === composed ? composed(a, b, c, prefix) : biasedSoftmax(a, b, c, [H, W]),
            weighting,
          ));
      const want = tf.grads(loss(composed))([logits, biasH, biasW]);
      const got = tf.grads(loss(biasedSoftmax))([logits, biasH, biasW]);
      for (const [i, name] of ["logits", "biasH", "biasW"].entries()) {
        assertAllClose(await got[i]!.data(), await want[i]!.data(), 1e-6, `d${name}`);
      }
      // The custom-gradient form: delta = Σ p ⊙ dP given by the caller.
      const delta = tf.sum(tf.mul(ours, weighting), 1, true);
      const [dS, dBiasH, dBiasW] = biasedSoftmaxBackward(ours, weighting, delta, [H, W]);
      assertAllClose(await dS.data(), await want[0]!.data(), 1e-6, "dS");
      assertAllClose(await dBiasH.data(), await want[1]!.data(), 1e-6, "dBiasH");
      assertAllClose(await dBiasW.data(), await want[2]!.data(), 1e-6, "dBiasW");
      tf.dispose([logits, biasH, biasW, weighting, ours, theirs, ...want, ...got, delta, dS]);
      tf.dispose([dBiasH, dBiasW]);
    });
  }
}

for (const backend of await availableBackends()) {
  for (const prefix of [0, 3]) {
    Deno.test(`biasedSoftmaxWithStats and biasedExp on ${backend}, prefix ${prefix}: the softmax, its row statistics, and the same floats again`, async () => {
      await onBackend(backend);
      const rows = 6;
      const logits = tf.randomNormal([rows, prefix + H * W], 0, 4, "float32", 5);
      const biasH = tf.randomNormal([rows, H], 0, 1, "float32", 6);
      const biasW = tf.randomNormal([rows, W], 0, 1, "float32", 7);
      const [p, stats] = biasedSoftmaxWithStats(logits, biasH, biasW, [H, W]);
      const theirs = composed(logits, biasH, biasW, prefix);
      assertAllClose(await p.data(), await theirs.data(), 1e-6, "probabilities");
      // The statistics by hand from the biased logits.
      const values = await stats.data();
      const biased = tf.tidy(() => {
        const bias = tf.add(biasH.reshape([rows, H, 1]), biasW.reshape([rows, 1, W]))
          .reshape([rows, H * W]);
        return tf.add(logits, prefix > 0 ? tf.concat([tf.zeros([rows, prefix]), bias], 1) : bias);
      });
      const raw = Array.from(await biased.data());
      const total = prefix + H * W;
      for (let i = 0; i < rows; i++) {
        const row = raw.slice(i * total, (i + 1) * total);
        const max = Math.max(...row);
        const sum = row.reduce((a, x) => a + Math.exp(x - max), 0);
        assertAllClose([values[2 * i]!], [max], 1e-5, `row ${i}'s max`);
        assertAllClose([values[2 * i + 1]! * sum], [1], 1e-5, `row ${i}'s 1 / sum`);
      }
      const again = biasedExp(logits, biasH, biasW, stats, [H, W]);
      const [first, second] = [await p.data(), await again.data()];
      if (backend === "webgpu") {
        // Not to the bit: the GPU's exp of the same argument may differ in its last place.
        assertAllClose(second, first, 1e-7, "probabilities again");
      } else {
        const differs = first.findIndex((value, i) => !Object.is(value, second[i]));
        if (differs !== -1) throw new Error(`biasedExp differs at ${differs}`);
      }
      tf.dispose([logits, biasH, biasW, p, stats, theirs, biased, again]);
    });
  }
}

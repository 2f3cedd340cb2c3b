/**
 * The by-hand full-size parity check: runs our image encoder on the exact input the official
 * PyTorch encoder saw (`preprocessed` in the reference file written by
 * scripts/fullsize_reference.py) and prints, as JSON, the largest absolute difference of the
 * image embeddings and the time taken.
 *
 *   deno run -A scripts/fullsize_check.ts CHECKPOINT.safetensors REFERENCE.safetensors [backend]
 *
 * @module
 */
import { type BackendName, useBackend } from "../lib/backend/backend.ts";
import { tf } from "../lib/backend/tf.ts";
import { loadCheckpoint } from "../lib/encoder/checkpoint.ts";
import { encodeImage } from "../lib/encoder/image_encoder.ts";
import { readSafetensors } from "../lib/io/safetensors.ts";

if (import.meta.main) {
  const [checkpointPath, referencePath, backend = "auto"] = Deno.args;
  if (!checkpointPath || !referencePath) {
    console.error(
      "usage: fullsize_check.ts CHECKPOINT.safetensors REFERENCE.safetensors [backend]",
    );
    Deno.exit(2);
  }
  const choice = await useBackend(backend as BackendName);
  const reference = await readSafetensors(referencePath);
  const preprocessed = reference.get("preprocessed")!;
  const expected = reference.get("image_embeddings")!;
  const weights = await loadCheckpoint(checkpointPath);
  const input = tf.tidy(() =>
    tf.tensor4d(preprocessed.data, preprocessed.shape as [number, number, number, number])
      .transpose([0, 2, 3, 1]) as tf.Tensor4D
  );
  const started = performance.now();
  const output = tf.tidy(() => encodeImage(weights, input).transpose([0, 3, 1, 2]));
  const values = await output.data() as Float32Array;
  const seconds = (performance.now() - started) / 1000;
  let maxAbsDiff = 0;
  for (let i = 0; i < values.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(values[i]! - expected.data[i]!));
  }
  console.log(
    JSON.stringify({ backend: choice.backend, seconds, maxAbsDiff, shape: output.shape }),
  );
}

/**
 * Compares two safetensors files tensor by tensor (the full-size parity check): prints, as JSON,
 * the largest absolute difference of each tensor both files hold.
 *
 *   deno run -A scripts/compare_embeddings.ts ours.safetensors reference.safetensors
 *
 * @module
 */
import { readSafetensors } from "../lib/io/safetensors.ts";

if (import.meta.main) {
  const [oursPath, referencePath] = Deno.args;
  if (!oursPath || !referencePath) {
    console.error("usage: compare_embeddings.ts OURS.safetensors REFERENCE.safetensors");
    Deno.exit(2);
  }
  const ours = await readSafetensors(oursPath);
  const reference = await readSafetensors(referencePath);
  const result: Record<string, { maxAbsDiff: number; maxAbsValue: number }> = {};
  for (const [name, tensor] of ours) {
    const other = reference.get(name);
    if (!other || other.data.length !== tensor.data.length) continue;
    let maxAbsDiff = 0;
    let maxAbsValue = 0;
    for (let i = 0; i < tensor.data.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(tensor.data[i]! - other.data[i]!));
      maxAbsValue = Math.max(maxAbsValue, Math.abs(other.data[i]!));
    }
    result[name] = { maxAbsDiff, maxAbsValue };
  }
  console.log(JSON.stringify(result, null, 2));
}

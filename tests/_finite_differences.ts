/**
 * Gradients against central finite differences: the probing loop shared by the gradient tests.
 *
 * @module
 */
import { tf, type Variable } from "../lib/backend/tf.ts";
import { mulberry32 } from "../lib/nn/prng.ts";

/** One tensor to probe: its name (for messages), the variable and its analytic gradient. */
export interface GradientProbe {
  name: string;
  variable: Variable;
  analytic: Float32Array;
}

/**
 * Compares each probe's analytic gradient with `(f(x + eps) - f(x - eps)) / 2 eps` at two
 * entries: the largest, and a seeded random one among the significant (at least a quarter of the
 * largest; for an entry far below it a step of `eps` moves `objective` by less than the float32
 * model's rounding noise, and the difference measures that noise, not the gradient). An entry
 * fails when the error exceeds `relative x max(|numeric|, 0.1 x largest)`. Throws when a probe's
 * gradient is all zero; returns one line per failure. Every variable gets its value back.
 */
export function centralDifferenceFailures(
  probes: readonly GradientProbe[],
  objective: () => number,
  options: { eps: number; relative: number; seed: number },
): string[] {
  const { eps, relative } = options;
  const random = mulberry32(options.seed);
  const failures: string[] = [];
  for (const { name, variable, analytic } of probes) {
    const largest = analytic.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
    if (!(largest > 0)) throw new Error(`"${name}" has an all-zero gradient`);
    const argmax = analytic.findIndex((g) => Math.abs(g) === largest);
    const significant = [...analytic.keys()].filter((i) =>
      Math.abs(analytic[i]!) >= 0.25 * largest
    );
    const entries = [argmax, significant[Math.floor(random() * significant.length)]!];
    const original = variable.dataSync().slice();
    for (const entry of entries) {
      const probe = (delta: number) => {
        const values = original.slice();
        values[entry] = values[entry]! + delta;
        tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
        return objective();
      };
      const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
      tf.tidy(() => variable.assign(tf.tensor(original, variable.shape)));
      const error = Math.abs(numeric - analytic[entry]!);
      if (error > relative * Math.max(Math.abs(numeric), 0.1 * largest)) {
        failures.push(`${name}[${entry}]: analytic ${analytic[entry]} vs numeric ${numeric}`);
      }
    }
  }
  return failures;
}

/**
 * Seeded initial values of trained tensors (the PEFT modules, their gates, the detection head).
 * Each tensor draws from its own stream, seeded by the run seed and the tensor's name, so a
 * tensor's start does not depend on which were drawn before.
 *
 * @module
 */
import { mixSeed, mulberry32 } from "./prng.ts";

/** A 32-bit FNV-1a hash of `name`, to turn a tensor name into a seed salt. */
export function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The seed of tensor `name` in a run seeded with `seed`. */
export function tensorSeed(seed: number, name: string): number {
  return mixSeed(seed, hashName(name));
}

/** `count` values uniform in [-bound, bound). */
export function uniformValues(count: number, bound: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = (2 * random() - 1) * bound;
  return values;
}

/** `count` values normal with mean 0 and standard deviation `std` (Box-Muller). */
export function normalValues(count: number, std: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = 1 - random(); // in (0, 1]: the logarithm stays finite
    values[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return values;
}

/** The number of values a tensor of `shape` holds. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

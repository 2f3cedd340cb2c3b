/**
 * The size SAM resizes an image to (plain arithmetic, shared by the Deno and browser resizers).
 *
 * @module
 */

/**
 * The size SAM resizes an `height x width` image to so that its longer side is `target`:
 * scale = target / max(h, w), each side `floor(side * scale + 0.5)`.
 *
 * @example
 * ```ts
 * import { longestSideSize } from "./longest_side.ts";
 * longestSideSize(200, 300, 1024); // { height: 683, width: 1024 }
 * ```
 */
export function longestSideSize(
  height: number,
  width: number,
  target: number,
): { height: number; width: number } {
  const scale = target / Math.max(height, width);
  return {
    height: Math.floor(height * scale + 0.5),
    width: Math.floor(width * scale + 0.5),
  };
}

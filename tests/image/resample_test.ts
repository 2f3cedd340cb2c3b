import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { resizeBilinear, resizeNearest } from "../../lib/image/resample.ts";

Deno.test("resizeNearest() copies values and keeps the pixel-centre alignment", () => {
  const shape = { width: 3, height: 1, channels: 1 };
  assertEquals(
    resizeNearest(new Uint8Array([1, 2, 3]), shape, { width: 6, height: 2 }),
    new Uint8Array([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]),
  );
  assertEquals(
    resizeNearest(new Uint8Array([1, 2, 3, 4]), { width: 4, height: 1, channels: 1 }, {
      width: 2,
      height: 1,
    }),
    new Uint8Array([2, 4]),
  );
});

Deno.test("resizeBilinear() interpolates between pixel centres (align_corners=False)", () => {
  const shape = { width: 2, height: 1, channels: 1 };
  assertEquals(
    resizeBilinear(new Float32Array([0, 100]), shape, { width: 4, height: 1 }),
    new Float32Array([0, 25, 75, 100]),
  );
  const rgb = resizeBilinear(new Uint8Array([0, 10, 20, 100, 110, 120]), {
    width: 2,
    height: 1,
    channels: 3,
  }, { width: 4, height: 1 });
  assertEquals(Array.from(rgb), [0, 10, 20, 25, 35, 45, 75, 85, 95, 100, 110, 120]);
});

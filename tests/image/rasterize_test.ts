import {
  deepStrictEqual as assertDeepEquals,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import {
  fillBox,
  fillPolygon,
  type OutlinedObject,
  rasterizeObject,
} from "../../lib/image/rasterize.ts";

function rows(mask: Uint8Array, width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < mask.length; i += width) out.push([...mask.subarray(i, i + width)].join(""));
  return out;
}

Deno.test("fillPolygon: pixel centres inside; left and top edges in, right and bottom out", () => {
  const grid = { width: 6, height: 5 };
  const square = fillPolygon(new Uint8Array(30), [1, 1, 4, 1, 4, 3, 1, 3], grid);
  assertDeepEquals(rows(square, 6), ["000000", "011100", "011100", "000000", "000000"]);
  // Two squares sharing the edge x = 2.5 (a column of centres): exactly one claims it.
  const left = fillPolygon(new Uint8Array(30), [0, 0, 2.5, 0, 2.5, 2, 0, 2], grid);
  const right = fillPolygon(new Uint8Array(30), [2.5, 0, 5, 0, 5, 2, 2.5, 2], grid);
  assertDeepEquals(rows(left, 6).slice(0, 2), ["110000", "110000"]);
  assertDeepEquals(rows(right, 6).slice(0, 2), ["001110", "001110"]);
});

Deno.test("fillPolygon: a right triangle, counted by hand", () => {
  // Legs on x = 0 and y = 4, hypotenuse x = y: centre (c + .5, r + .5) is in when c < r.
  const triangle = fillPolygon(new Uint8Array(16), [0, 0, 4, 4, 0, 4], { width: 4, height: 4 });
  assertDeepEquals(rows(triangle, 4), ["0000", "1000", "1100", "1110"]);
});

Deno.test("fillPolygon: even-odd leaves a pentagram's centre empty, non-zero fills it", () => {
  // A star through the five points of a regular pentagon, radius 10, centre (10.5, 10.5).
  const star: number[] = [];
  for (let i = 0; i < 5; i++) {
    const angle = -Math.PI / 2 + (4 * Math.PI * i) / 5;
    star.push(10.5 + 10 * Math.cos(angle), 10.5 + 10 * Math.sin(angle));
  }
  const grid = { width: 21, height: 21 };
  const evenOdd = fillPolygon(new Uint8Array(441), star, grid, "evenodd");
  const nonZero = fillPolygon(new Uint8Array(441), star, grid, "nonzero");
  assertEquals(evenOdd[10 * 21 + 10], 0);
  assertEquals(nonZero[10 * 21 + 10], 1);
  // The points of the star are filled by both; everywhere even-odd fills, non-zero does too.
  assertEquals(evenOdd[2 * 21 + 10], 1);
  assertEquals(nonZero.every((v, i) => v >= evenOdd[i]!), true);
});

Deno.test("fillPolygon: scaled to a coarser grid, clipped to it; grid size checked", () => {
  // A 1024-px tile's box onto a 256 grid: 0.25 grid pixels per tile pixel.
  const mask = fillBox(new Uint8Array(16), [-8, 2, 12, 10], { width: 4, height: 4, scale: 0.25 });
  // x in [-2, 1), y in [.5, 3): centre .5 in x; .5 (on the top edge), 1.5, 2.5 in y.
  assertDeepEquals(rows(mask, 4), ["1000", "1000", "1000", "0000"]);
  assertThrows(
    () => fillPolygon(new Uint8Array(3), [0, 0, 1, 0, 1, 1], { width: 2, height: 2 }),
    /3 pixels, the grid 2x2/,
  );
});

Deno.test("rasterizeObject: the union of its polygons, else its box", () => {
  const base: OutlinedObject = { bbox: [0, 0, 4, 2] };
  assertDeepEquals(rows(rasterizeObject(base, { width: 4, height: 3 }), 4), [
    "1111",
    "1111",
    "0000",
  ]);
  const twoParts = { ...base, polygons: [[0, 0, 1, 0, 1, 1, 0, 1], [3, 2, 4, 2, 4, 3, 3, 3]] };
  assertDeepEquals(rows(rasterizeObject(twoParts, { width: 4, height: 3 }), 4), [
    "1000",
    "0000",
    "0001",
  ]);
});

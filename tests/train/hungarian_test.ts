import assert from "node:assert/strict";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { minimumCostAssignment } from "../../lib/train/hungarian.ts";

/** The least total cost over every assignment of min(rows, columns) pairs, by enumeration. */
function bruteForceCost(cost: number[], rows: number, columns: number): number {
  let best = Infinity;
  const usedColumns = new Set<number>();
  const visit = (row: number, total: number, left: number) => {
    if (left === 0) {
      best = Math.min(best, total);
      return;
    }
    if (rows - row < left) return; // not enough rows left
    // Row `row` may stay unassigned when columns are fewer than rows.
    if (rows - row > left) visit(row + 1, total, left);
    for (let column = 0; column < columns; column++) {
      if (usedColumns.has(column)) continue;
      usedColumns.add(column);
      visit(row + 1, total + cost[row * columns + column]!, left - 1);
      usedColumns.delete(column);
    }
  };
  visit(0, 0, Math.min(rows, columns));
  return best;
}

function totalOf(cost: number[], columns: number, pairs: { row: number; column: number }[]) {
  return pairs.reduce((sum, { row, column }) => sum + cost[row * columns + column]!, 0);
}

Deno.test("minimumCostAssignment() solves a 3x3 case by hand", () => {
  // Greedy row by row would take (0,0)=1 then (1,1)=5; the optimum crosses over: 2 + 2 + 1 = 5.
  const cost = [1, 2, 9, 2, 5, 9, 9, 9, 1];
  assert.deepEqual(minimumCostAssignment(cost, 3, 3), [
    { row: 0, column: 1 },
    { row: 1, column: 0 },
    { row: 2, column: 2 },
  ]);
});

Deno.test("minimumCostAssignment() equals brute force on random square and rectangular matrices", () => {
  const random = mulberry32(11);
  for (let trial = 0; trial < 300; trial++) {
    const rows = 1 + Math.floor(random() * 6);
    const columns = 1 + Math.floor(random() * 6);
    // Integer costs make ties frequent; negative ones are allowed.
    const integer = trial % 2 === 0;
    const cost = Array.from(
      { length: rows * columns },
      () => integer ? Math.floor(random() * 7) - 2 : random() * 10 - 3,
    );
    const pairs = minimumCostAssignment(cost, rows, columns);
    assert.equal(pairs.length, Math.min(rows, columns));
    assert.equal(new Set(pairs.map((p) => p.row)).size, pairs.length, "rows distinct");
    assert.equal(new Set(pairs.map((p) => p.column)).size, pairs.length, "columns distinct");
    for (let i = 1; i < pairs.length; i++) assert.ok(pairs[i]!.row > pairs[i - 1]!.row);
    const total = totalOf(cost, columns, pairs);
    const best = bruteForceCost(cost, rows, columns);
    assert.ok(Math.abs(total - best) < 1e-9, `${rows}x${columns}: ${total} vs ${best}`);
  }
});

Deno.test("minimumCostAssignment() handles many queries for few objects (100 x 3)", () => {
  const rows = 100;
  const columns = 3;
  const cost = Array.from({ length: rows * columns }, (_, i) => 10 + (i % 7));
  // Three clear winners, one per object.
  cost[17 * columns + 2] = 0;
  cost[42 * columns + 0] = 0;
  cost[99 * columns + 1] = 0;
  assert.deepEqual(minimumCostAssignment(cost, rows, columns), [
    { row: 17, column: 2 },
    { row: 42, column: 0 },
    { row: 99, column: 1 },
  ]);
});

Deno.test("minimumCostAssignment() returns nothing for an empty side and rejects bad input", () => {
  assert.deepEqual(minimumCostAssignment([], 5, 0), []);
  assert.deepEqual(minimumCostAssignment([], 0, 3), []);
  assert.throws(() => minimumCostAssignment([1, 2, 3], 2, 2), /needs 4 values, got 3/);
  assert.throws(() => minimumCostAssignment([1, NaN], 1, 2), /holds NaN at 1/);
});

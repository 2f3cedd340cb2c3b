/**
 * Minimum-cost assignment (the Hungarian method), exact, in O(n² m) for an n x m cost matrix
 * with n <= m: the matching of object queries to ground-truth objects in detection training.
 *
 * The algorithm is the shortest-augmenting-path form with row and column potentials (Kuhn and
 * Munkres; Jonker and Volgenant's formulation): one row is added at a time and an augmenting path
 * of least reduced cost is found by a Dijkstra-like scan over the columns.
 *
 * @module
 */

/** One matched pair: a row and the column it is assigned. */
export interface Assignment {
  row: number;
  column: number;
}

/**
 * Assigns each row of the `rows x columns` cost matrix `cost` (row-major) to a distinct column,
 * or each column to a distinct row when there are fewer columns, minimising the total cost.
 * Returns `min(rows, columns)` pairs sorted by row. Costs must be finite.
 *
 * @example
 * ```ts
 * import { minimumCostAssignment } from "./hungarian.ts";
 * // 3 queries (rows), 2 objects (columns)
 * minimumCostAssignment([4, 1, 2, 3, 0, 5], 3, 2); // [{ row: 0, column: 1 }, { row: 2, column: 0 }]
 * ```
 */
export function minimumCostAssignment(
  cost: ArrayLike<number>,
  rows: number,
  columns: number,
): Assignment[] {
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < 0) {
    throw new RangeError(`Cost matrix size must be non-negative integers, got ${rows}x${columns}`);
  }
  if (cost.length !== rows * columns) {
    throw new RangeError(
      `Cost matrix of ${rows}x${columns} needs ${rows * columns} values, got ${cost.length}`,
    );
  }
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i]!)) throw new RangeError(`Cost matrix holds ${cost[i]} at ${i}`);
  }
  if (rows === 0 || columns === 0) return [];
  // The scan below needs n <= m; a tall matrix is solved transposed.
  const transposed = rows > columns;
  const n = transposed ? columns : rows;
  const m = transposed ? rows : columns;
  const at = transposed
    ? (i: number, j: number) => cost[j * columns + i]!
    : (i: number, j: number) => cost[i * columns + j]!;

  // 1-based arrays; column 0 is the virtual start of each augmenting path.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const rowOfColumn = new Int32Array(m + 1); // 0 = free
  const previous = new Int32Array(m + 1);
  const distance = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOfColumn[0] = i;
    let column = 0;
    distance.fill(Infinity);
    used.fill(0);
    do {
      used[column] = 1;
      const row = rowOfColumn[column]!;
      let delta = Infinity;
      let next = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = at(row - 1, j - 1) - u[row]! - v[j]!;
        if (reduced < distance[j]!) {
          distance[j] = reduced;
          previous[j] = column;
        }
        if (distance[j]! < delta) {
          delta = distance[j]!;
          next = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          const r = rowOfColumn[j]!;
          u[r] = u[r]! + delta;
          v[j] = v[j]! - delta;
        } else {
          distance[j] = distance[j]! - delta;
        }
      }
      column = next;
    } while (rowOfColumn[column] !== 0);
    // Flip the path back to its start.
    do {
      const before = previous[column]!;
      rowOfColumn[column] = rowOfColumn[before]!;
      column = before;
    } while (column !== 0);
  }
  const pairs: Assignment[] = [];
  for (let j = 1; j <= m; j++) {
    const i = rowOfColumn[j]!;
    if (i === 0) continue;
    pairs.push(transposed ? { row: j - 1, column: i - 1 } : { row: i - 1, column: j - 1 });
  }
  return pairs.sort((a, b) => a.row - b.row);
}

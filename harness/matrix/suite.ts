import { describe } from 'vitest';
import { testArches } from '../testing/arches.js';
import { scenario } from '../testing/scenario.js';
import { expandMatrix, shardCells } from './expand.js';
import { loadMatrix } from './load.js';
import type { MatrixCell } from './model.js';
import { runCell } from './run-cell.js';

export const MATRIX_PARTS = 4;

/**
 * The cells of the chosen matrix (MIGTEST_MATRIX: a preset or a file; default "default"),
 * limited to the run's arches, with MIGTEST_QEMU forcing both sides to one QEMU version.
 */
export function selectedCells(): { name: string; cells: MatrixCell[] } {
  const m = loadMatrix(process.env.MIGTEST_MATRIX ?? 'default');
  const arches = testArches();
  const forced = process.env.MIGTEST_QEMU;
  const cells = expandMatrix(m)
    .filter((c) => arches.includes(c.arch))
    .map((c) => (forced ? { ...c, qemu: { src: forced, dst: forced }, id: c.id.replace(/qemu-[^/]+/, `qemu-${forced}`) } : c));
  return { name: m.name, cells };
}

/** One of MATRIX_PARTS test files: cells spread round-robin so --shard divides a run evenly. */
export function matrixSuite(part: number): void {
  const { name, cells } = selectedCells();
  const mine = shardCells(cells, part - 1, MATRIX_PARTS);
  describe.skipIf(mine.length === 0)(`matrix ${name} part ${part}/${MATRIX_PARTS}`, () => {
    for (const cell of mine) scenario(cell.id, { suite: `matrix-${name}`, arch: cell.arch }, (ctx) => runCell(cell, ctx));
  });
}

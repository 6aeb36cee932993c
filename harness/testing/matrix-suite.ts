import { describe } from 'vitest';
import { runAccel } from '../qemu/accel.js';
import { findBinary } from '../qemu/catalog.js';
import { probeBinary } from '../qemu/probe.js';
import { runCase } from '../case/run.js';
import { caseRow } from '../case/row.js';
import { cellCase } from '../matrix/cases.js';
import { expandMatrix, shardCells } from '../matrix/expand.js';
import { loadMatrix } from '../matrix/load.js';
import type { MatrixCell } from '../matrix/model.js';
import { runConfig } from '../util/run-config.js';
import { testArches } from './arches.js';
import { scenario } from './scenario.js';

export const MATRIX_PARTS = 4;

/**
 * The cells of the chosen matrix (MIGTEST_MATRIX: a preset or a file; default "default"),
 * limited to the run's arches, with the run's QEMU choice (--qemu) forcing its sides.
 */
export function selectedCells(): { name: string; cells: MatrixCell[] } {
  const cfg = runConfig();
  const m = loadMatrix(cfg.matrix);
  const arches = testArches();
  const forced = cfg.qemu;
  const cells = expandMatrix(m)
    .filter((c) => arches.includes(c.arch))
    .map((c) => {
      if (!forced.src && !forced.dst) return c;
      const qemu = { src: forced.src ?? c.qemu.src, dst: forced.dst ?? c.qemu.dst };
      const label = qemu.src === qemu.dst ? qemu.src : `${qemu.src}->${qemu.dst}`;
      return { ...c, qemu, id: c.id.replace(/qemu-[^/]+/, `qemu-${label}`) };
    });
  return { name: m.name, cells };
}

/** One of MATRIX_PARTS test files: cells spread round-robin so --shard divides a run evenly. */
export function matrixSuite(part: number): void {
  const { name, cells } = selectedCells();
  const mine = shardCells(cells, part - 1, MATRIX_PARTS);
  describe.skipIf(mine.length === 0)(`matrix ${name} part ${part}/${MATRIX_PARTS}`, () => {
    for (const cell of mine)
      scenario(cell.id, { suite: `matrix-${name}`, arch: cell.arch, twoHosts: true }, async (ctx) => {
        const version = (v: string) => (v === 'default' ? undefined : v);
        const [srcBin, dstBin] = await Promise.all([findBinary(cell.arch, version(cell.qemu.src)), findBinary(cell.arch, version(cell.qemu.dst))]);
        const probes = { src: await probeBinary(srcBin), dst: await probeBinary(dstBin) };
        const c = cellCase(cell, probes, (await runAccel(srcBin)).accel);
        ctx.record({ extra: { cell: cell.id, qemu: `${srcBin.version}->${dstBin.version}`, expectation: c.expect?.kind } });
        ctx.artifacts.writeJson('cell.json', { cell, expectation: c.expect, versions: { src: srcBin.version, dst: dstBin.version } });
        return caseRow(await runCase(ctx, c));
      });
  });
}

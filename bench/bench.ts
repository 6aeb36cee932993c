/**
 * npm run bench: the speed figures users care about, measured, never asserted.
 * Per arch: image build cold (empty cache) and warm, boot-to-ready, and a precopy scenario's
 * wall time against QEMU's own total-time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../harness/images/build.js';
import { ARCHES, parseArch, type Arch } from '../harness/util/arch.js';
import { startPair } from '../harness/migration/pair.js';
import { migrateAndVerify } from '../harness/migration/verify.js';
import { ArtifactDir, runDir } from '../harness/report/artifacts.js';
import { VmPool } from '../harness/vm/pool.js';
import { VmBuilder } from '../harness/vm/builder.js';
import { reloadRunConfig } from '../harness/util/run-config.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const arches: Arch[] = process.argv.slice(2).length ? process.argv.slice(2).map((a) => parseArch(a)) : [...ARCHES];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

const rows: string[][] = [];
for (const arch of arches) {
  // Cold: a fresh cache directory, so nothing is reused (packages are downloaded again).
  const savedCache = process.env.MIGTEST_CACHE;
  const coldCache = mkdtempSync('/tmp/migtest-bench-cache-');
  process.env.MIGTEST_CACHE = coldCache;
  reloadRunConfig();
  const [cold] = await timed(() => buildImage(arch));
  const [warm] = await timed(() => buildImage(arch));
  rmSync(coldCache, { recursive: true, force: true });
  if (savedCache === undefined) delete process.env.MIGTEST_CACHE;
  else process.env.MIGTEST_CACHE = savedCache;
  reloadRunConfig();

  const boots: number[] = [];
  const walls: number[] = [];
  const totals: number[] = [];
  const downs: number[] = [];
  const guestDowns: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const pool = new VmPool(new ArtifactDir(join(runDir(), `bench-${arch}-${i}`)));
    try {
      const [boot, vm] = await timed(async () => {
        const v = await pool.start(new VmBuilder('boot', arch));
        await v.waitReady();
        return v;
      });
      boots.push(boot);
      await vm.stop();
      const [wall, { migration, figures }] = await timed(async () => migrateAndVerify(await startPair(pool, arch)));
      walls.push(wall);
      totals.push(migration.info['total-time'] ?? NaN);
      downs.push(migration.info.downtime ?? NaN);
      guestDowns.push(figures.guestDowntimeMs ?? NaN);
    } finally {
      await pool.stopAll();
    }
  }
  rows.push([
    arch,
    s(cold),
    s(warm),
    s(median(boots)),
    s(median(walls)),
    s(median(totals)),
    `${median(downs)}ms`,
    `${median(guestDowns)}ms`,
  ]);
}

const header = ['arch', 'image cold', 'image warm', 'boot-to-ready', 'scenario wall', 'qemu total-time', 'qemu downtime', 'guest downtime'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
console.log(`\nmedian of ${REPS} runs (boot and scenario); scenario = boot pair + precopy + liveness check`);
console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));

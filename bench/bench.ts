/**
 * npm run bench: the speed figures users care about, measured, never asserted.
 * Per arch: image build cold (empty cache) and warm, boot-to-ready, and a precopy scenario's
 * wall time (pair up, migrate, liveness) with a fresh boot and with snapshot start, against
 * QEMU's own total-time. BENCH_SUITES="precopy-basic postcopy-basic" also times those suites
 * (`migtest run`) both ways; BENCH_SUITES=all times `npm test`'s whole run both ways (long).
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../harness/images/build.js';
import { ARCHES, parseArch, type Arch } from '../harness/util/arch.js';
import { runCase } from '../harness/case/run.js';
import { ArtifactDir, runDir } from '../harness/report/artifacts.js';
import { Scope, VmPool } from '../harness/vm/pool.js';
import { VmBuilder } from '../harness/vm/builder.js';
import { reloadRunConfig } from '../harness/util/run-config.js';
import { repoRoot } from '../harness/util/paths.js';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const arches: Arch[] = process.argv.slice(2).length ? process.argv.slice(2).map((a) => parseArch(a)) : [...ARCHES];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

/** Runs fn with MIGTEST_FRESH_BOOT set or not, the run config re-read. */
async function withFreshBoot<T>(fresh: boolean, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.MIGTEST_FRESH_BOOT;
  process.env.MIGTEST_FRESH_BOOT = fresh ? '1' : '0';
  reloadRunConfig();
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.MIGTEST_FRESH_BOOT;
    else process.env.MIGTEST_FRESH_BOOT = saved;
    reloadRunConfig();
  }
}

interface Scenario {
  wall: number;
  total: number;
  down: number;
  guestDown: number;
  mode: string;
}

/** One precopy scenario as the suites run it: a pair, a migration, the liveness check. */
async function scenario(arch: Arch, dir: string): Promise<Scenario> {
  const scope = new Scope(new ArtifactDir(dir));
  try {
    const [wall, r] = await timed(() => runCase(scope, { id: 'bench precopy', arch, workload: false }));
    return { wall, total: r.migration!.info['total-time'] ?? NaN, down: r.migration!.info.downtime ?? NaN, guestDown: r.figures.guestDowntimeMs ?? NaN, mode: r.run.src.startMode };
  } finally {
    await scope.close();
  }
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
  const fresh: Scenario[] = [];
  const snap: Scenario[] = [];
  for (let i = 0; i < REPS; i++) {
    const pool = new VmPool(new ArtifactDir(join(runDir(), `bench-${arch}-${i}`)));
    try {
      const [boot, vm] = await timed(async () => {
        const v = await pool.start(new VmBuilder('boot', arch).withFreshBoot());
        await v.waitReady();
        return v;
      });
      boots.push(boot);
      await vm.stop();
      fresh.push(await withFreshBoot(true, () => scenario(arch, join(runDir(), `bench-${arch}-${i}-fresh`))));
      // Snapshot start: the configuration's snapshot exists after its second boot; the
      // first rep may still be the one that saves it.
      snap.push(await withFreshBoot(false, () => scenario(arch, join(runDir(), `bench-${arch}-${i}-snap`))));
    } finally {
      await pool.stopAll();
    }
  }
  const restored = snap.filter((x) => x.mode === 'restored');
  const col = (xs: Scenario[], k: keyof Omit<Scenario, 'mode'>, unit: (n: number) => string) => (xs.length ? unit(median(xs.map((x) => x[k]))) : '-');
  const ms = (n: number) => `${n}ms`;
  rows.push([arch, s(cold), s(warm), s(median(boots)), col(fresh, 'wall', s), `${col(restored, 'wall', s)} (${restored.length}/${snap.length})`, col(fresh, 'total', s), col(fresh, 'down', ms), col(restored, 'down', ms), col(fresh, 'guestDown', ms), col(restored, 'guestDown', ms)]);
}

const header = ['arch', 'image cold', 'image warm', 'boot-to-ready', 'scenario fresh boot', 'scenario snapshot start (restored)', 'qemu total-time', 'qemu downtime (fresh)', '(snapshot)', 'guest downtime (fresh)', '(snapshot)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
console.log(`\nmedian of ${REPS} runs; scenario = pair up + precopy + liveness check`);
console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));

/** The environment without this process's run directory and fresh-boot setting. */
function childEnv(): Record<string, string> {
  const { MIGTEST_RUN_DIR: _r, MIGTEST_FRESH_BOOT: _f, ...rest } = process.env;
  return Object.fromEntries(Object.entries(rest).filter((e): e is [string, string] => e[1] !== undefined));
}

const suites = process.env.BENCH_SUITES?.trim();
if (suites) {
  // Whole suites through the CLI, as CI runs them, both ways.
  const args = suites === 'all' ? ['run', '--all'] : ['run', ...suites.split(/\s+/)];
  const out: string[] = [];
  for (const fresh of [true, false]) {
    const [t, r] = await timed(() =>
      // Each run gets its own run directory (not the bench's, which this process exported).
      execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), ...args, ...(fresh ? ['--fresh-boot'] : [])], { cwd: repoRoot, reject: false, extendEnv: false, env: { ...childEnv(), MIGTEST_QUIET: '1' } }),
    );
    const counts = /(\d+ passed, \d+ failed, \d+ skipped)/.exec(r.stdout)?.[1] ?? `exit ${r.exitCode}`;
    out.push(`${fresh ? 'fresh boot   ' : 'snapshot start'}  ${s(t)}  ${counts}`);
  }
  console.log(`\nsuites: ${suites}\n${out.join('\n')}`);
}

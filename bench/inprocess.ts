/**
 * The bench's in-process figures (the harness as a library): image build cold (empty cache)
 * and warm, boot-to-ready, and a precopy scenario's wall time (pair up, migrate, liveness)
 * with a fresh boot and with snapshot start, against QEMU's own total-time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../harness/images/build.js';
import type { Arch } from '../harness/util/arch.js';
import { runCase } from '../harness/case/run.js';
import { ArtifactDir, runDir } from '../harness/report/artifacts.js';
import { Scope, VmPool } from '../harness/vm/pool.js';
import { VmBuilder } from '../harness/vm/builder.js';
import { reloadRunConfig } from '../harness/util/run-config.js';
import { median, ms, REPS, s, table, timed, words } from './common.js';

/** Runs fn with these environment variables set, the run config re-read, then restored. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  reloadRunConfig();
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    reloadRunConfig();
  }
}

const withFreshBoot = <T>(fresh: boolean, fn: () => Promise<T>) => withEnv({ MIGTEST_FRESH_BOOT: fresh ? '1' : '0' }, fn);

/** The built-in images the scenario section measures: BENCH_IMAGES (default "default system"). */
const IMAGES = words('BENCH_IMAGES').length ? words('BENCH_IMAGES') : ['default', 'system'];

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

/** BENCH_ONLY=image: the guest image built with an empty cache (packages downloaded again), then warm. */
export async function imageSection(arches: Arch[]): Promise<void> {
  const rows: string[][] = [];
  for (const arch of arches) {
    const savedCache = process.env.MIGTEST_CACHE;
    const coldCache = mkdtempSync('/tmp/migtest-bench-cache-');
    process.env.MIGTEST_CACHE = coldCache;
    reloadRunConfig();
    try {
      const [cold] = await timed(() => buildImage(arch));
      const [warm] = await timed(() => buildImage(arch));
      rows.push([arch, s(cold), s(warm)]);
    } finally {
      rmSync(coldCache, { recursive: true, force: true });
      if (savedCache === undefined) delete process.env.MIGTEST_CACHE;
      else process.env.MIGTEST_CACHE = savedCache;
      reloadRunConfig();
    }
  }
  console.log(`\nimage build (once each)\n${table(['arch', 'image cold', 'image warm'], rows)}`);
}

/**
 * BENCH_ONLY=scenario: per arch and built-in image (BENCH_IMAGES), boot-to-ready (a first
 * boot: no snapshot), and runCase() in this process with a fresh boot and with snapshot start.
 */
export async function scenarioSection(arches: Arch[]): Promise<void> {
  const rows: string[][] = [];
  for (const arch of arches)
    for (const image of IMAGES) rows.push(await withEnv({ MIGTEST_IMAGE: image }, () => scenarioRow(arch, image)));
  const header = ['arch', 'image', 'boot-to-ready', 'scenario fresh boot', 'scenario snapshot start (restored)', 'qemu total-time', 'qemu downtime (fresh)', '(snapshot)', 'guest downtime (fresh)', '(snapshot)'];
  console.log(`\nin process, median of ${REPS} runs; scenario = pair up + precopy + liveness check\n${table(header, rows)}`);
}

async function scenarioRow(arch: Arch, image: string): Promise<string[]> {
  const boots: number[] = [];
  const fresh: Scenario[] = [];
  const snap: Scenario[] = [];
  for (let i = 0; i < REPS; i++) {
    const pool = new VmPool(new ArtifactDir(join(runDir(), `bench-${arch}-${image}-${i}`)));
    try {
      const [boot, vm] = await timed(async () => {
        const v = await pool.start(new VmBuilder('boot', arch).withFreshBoot());
        await v.waitReady();
        return v;
      });
      boots.push(boot);
      await vm.stop();
      fresh.push(await withFreshBoot(true, () => scenario(arch, join(runDir(), `bench-${arch}-${image}-${i}-fresh`))));
      // Snapshot start: the configuration's snapshot exists after its first boot; the
      // first rep may still be the one that saves it.
      snap.push(await withFreshBoot(false, () => scenario(arch, join(runDir(), `bench-${arch}-${image}-${i}-snap`))));
    } finally {
      await pool.stopAll();
    }
  }
  const restored = snap.filter((x) => x.mode === 'restored');
  const col = (xs: Scenario[], k: keyof Omit<Scenario, 'mode'>, unit: (n: number | undefined) => string) => (xs.length ? unit(median(xs.map((x) => x[k]))) : '-');
  return [arch, image, s(median(boots)), col(fresh, 'wall', s), `${col(restored, 'wall', s)} (${restored.length}/${snap.length})`, col(fresh, 'total', s), col(fresh, 'down', ms), col(restored, 'down', ms), col(fresh, 'guestDown', ms), col(restored, 'guestDown', ms)];
}

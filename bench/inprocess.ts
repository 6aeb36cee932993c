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
import { median, ms, REPS, s, table, timed } from './common.js';

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

/** BENCH_ONLY=scenario: boot-to-ready, and runCase() in this process with a fresh boot and with snapshot start. */
export async function scenarioSection(arches: Arch[]): Promise<void> {
  const rows: string[][] = [];
  for (const arch of arches) {
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
    const col = (xs: Scenario[], k: keyof Omit<Scenario, 'mode'>, unit: (n: number | undefined) => string) => (xs.length ? unit(median(xs.map((x) => x[k]))) : '-');
    rows.push([arch, s(median(boots)), col(fresh, 'wall', s), `${col(restored, 'wall', s)} (${restored.length}/${snap.length})`, col(fresh, 'total', s), col(fresh, 'down', ms), col(restored, 'down', ms), col(fresh, 'guestDown', ms), col(restored, 'guestDown', ms)]);
  }
  const header = ['arch', 'boot-to-ready', 'scenario fresh boot', 'scenario snapshot start (restored)', 'qemu total-time', 'qemu downtime (fresh)', '(snapshot)', 'guest downtime (fresh)', '(snapshot)'];
  console.log(`\nin process, median of ${REPS} runs; scenario = pair up + precopy + liveness check\n${table(header, rows)}`);
}

import { firstJump } from '../guest/liveness.js';
import type { ArtifactDir } from '../report/artifacts.js';
import type { ScenarioResult } from '../report/results.js';
import type { VmPool } from '../testing/pool.js';
import { VmBuilder } from '../vm/builder.js';
import type { MigrateOptions } from './migrate.js';
import { migrateAndVerify } from './verify.js';
import type { RamWorkload } from '../guest/ramcheck.js';
import { CheckFailedError } from '../util/errors.js';
import { pollUntil, scaled } from '../util/time.js';
import type { StartedVm } from '../vm/started.js';
import type { MigrationSampler, MigrationSample } from './stats.js';

/** After a failed or cancelled migration: the source runs, its guest beats, its RAM is intact. */
export async function assertSourceIntact(src: StartedVm, ram?: RamWorkload): Promise<void> {
  await pollUntil(`${src.name} to be running again`, scaled(30_000), async () => {
    const s = await src.status();
    return { done: s.status === 'running', state: s.status };
  });
  const hb = src.heartbeat!;
  const n = hb.beats.length;
  await hb.waitForBeats(20, scaled(15_000), n);
  const jump = firstJump(hb.beats.slice(Math.max(0, n - 1)));
  if (jump) throw new CheckFailedError(`${src.name}: heartbeat counter jumped after the failed migration: ${jump[0].n} then ${jump[1].n}`);
  if (ram) await ram.check(src);
}

/** Waits until a sample satisfies `pred` (the sampler polls query-migrate), naming what it waited for. */
export function waitForSample(
  sampler: MigrationSampler,
  awaited: string,
  pred: (s: MigrationSample) => boolean,
  timeoutMs = scaled(120_000),
): Promise<MigrationSample> {
  return pollUntil(awaited, timeoutMs, () => {
    const last = sampler.last;
    return { done: !!last && pred(last), value: last, state: last };
  }, 100);
}

/**
 * After a failed or cancelled migration, a retry to a fresh destination must succeed and
 * carry intact memory: the source really is as good as before.
 */
export async function retryToFreshDestination(
  ctx: { vms: VmPool; artifacts: ArtifactDir; result: Partial<ScenarioResult> },
  src: StartedVm,
  ram: RamWorkload,
  opts: MigrateOptions & { configure?: (b: VmBuilder) => VmBuilder } = {},
): Promise<void> {
  const builder = (opts.configure ?? ((b) => b))(new VmBuilder('dst2', src.spec.arch).withQemu(src.qemuVersion).withIncoming());
  const dst2 = await ctx.vms.start(builder);
  await migrateAndVerify({ src, dst: dst2 }, ctx, { parameters: { 'max-bandwidth': 134_217_728 }, ...opts });
  await ram.check(dst2);
}

import { firstJump } from '../guest/liveness.js';
import type { RamCheckReport, RamWorkload } from '../guest/ramcheck.js';
import { CheckFailedError } from '../util/errors.js';
import { DEADLINES, deadline } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import { VmBuilder } from '../vm/builder.js';
import type { VmPool } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import type { MigrateOptions } from './migrate.js';
import { migrateAndVerify, verifyMigration, type VerifiedMigration } from './verify.js';
import { startMigration } from './migrate.js';
import { mergeSettings, postcopySettings, switchToPostcopy } from './postcopy.js';

/** After a failed or cancelled migration: the source runs, its guest beats, its RAM is intact. */
export async function assertSourceIntact(src: StartedVm, ram?: RamWorkload): Promise<void> {
  await pollUntil(`${src.name} to be running again`, deadline(undefined, 'sourceRecovers'), async () => {
    const s = await src.status();
    return { done: s.status === 'running', state: s.status };
  });
  const hb = src.heartbeat!;
  const n = hb.beats.length;
  await hb.waitForBeats(20, { since: n, timeoutMs: DEADLINES.sourceBeats });
  const jump = firstJump(hb.beats.slice(Math.max(0, n - 1)));
  if (jump) throw new CheckFailedError(`${src.name}: heartbeat counter jumped after the failed migration: ${jump[0].n} then ${jump[1].n}`);
  if (ram) await ram.check(src);
}

export interface RetryResult extends VerifiedMigration {
  dst: StartedVm;
  ram: RamCheckReport;
}

/**
 * After a failed or cancelled migration, a retry to a fresh destination must succeed and
 * carry intact memory: the source really is as good as before. Returns the retry's own
 * figures, for the caller to record as the retry's (not the failed attempt's).
 */
export async function retryToFreshDestination(
  vms: VmPool,
  src: StartedVm,
  ram: RamWorkload,
  opts: MigrateOptions & {
    configure?: (b: VmBuilder) => VmBuilder | Promise<VmBuilder>;
    postcopy?: boolean;
    /** What the fresh destination needs before the migration (a disk mirrored into it): options it adds. */
    withDestination?: (dst: StartedVm) => Promise<Partial<MigrateOptions>>;
  } = {},
): Promise<RetryResult> {
  const builder = await (opts.configure ?? ((b) => b))(new VmBuilder('dst2', src.spec.arch).withBinary(src.binary).withIncoming());
  const dst = await vms.start(builder);
  const { postcopy, withDestination, ...rest } = opts;
  const settings: MigrateOptions = { parameters: { 'max-bandwidth': 134_217_728 }, ...rest, ...(await withDestination?.(dst)) };
  let verified: VerifiedMigration;
  if (postcopy) {
    // The same migration in postcopy: switched after the first pass, then let run at full speed.
    const m = await startMigration(src, dst, { ...settings, ...mergeSettings(postcopySettings(), settings) });
    await switchToPostcopy(m);
    verified = await verifyMigration({ src, dst }, await m.finish());
  } else verified = await migrateAndVerify({ src, dst }, settings);
  return { ...verified, dst, ram: await ram.check(dst) };
}

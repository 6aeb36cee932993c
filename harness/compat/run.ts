import { RamWorkload } from '../guest/ramcheck.js';
import { assertSourceIntact, retryToFreshDestination } from '../migration/checks.js';
import { startMigration } from '../migration/migrate.js';
import { verifyMigration } from '../migration/verify.js';
import { compareVersions, findBinary, type QemuBinary } from '../qemu/catalog.js';
import type { ScenarioContext } from '../testing/scenario.js';
import { CheckFailedError } from '../util/errors.js';
import { MigrationFailedError } from '../migration/errors.js';
import { pollUntil, scaled } from '../util/time.js';
import { VmBuilder } from '../vm/builder.js';
import { VmStartError } from '../vm/errors.js';
import type { StartedVm } from '../vm/started.js';
import { dstSetup, type PairCase, type PairOutcome, type SideSetup } from './model.js';

const WORKLOAD = { mib: 32, rateMiBs: 16 };

function configure(b: VmBuilder, s: SideSetup, bin: QemuBinary): VmBuilder {
  b.withBinary(bin);
  if (s.machine) b.withMachine(s.machine);
  if (s.cpu) b.withCpu(s.cpu);
  if (s.memoryMiB) b.withMemory(s.memoryMiB);
  for (const d of s.devices ?? []) b.withDevice(d);
  if (s.args?.length) b.withArgs(...s.args);
  return b;
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/**
 * Why the destination refused, in QEMU's words: the specific reason is only on its stderr
 * (error_report); with exit-on-error false (9.1+) query-migrate adds the generic
 * error-desc ("load of migration failed: ..."). Both, stderr first.
 */
async function destinationError(dst: StartedVm, kept: boolean): Promise<string> {
  return pollUntil(`${dst.name}: its reason for failing the incoming migration`, scaled(30_000), async () => {
    const desc = kept && dst.process.running ? (await dst.queryMigrate().catch(() => undefined))?.['error-desc'] : undefined;
    const lines = dst.stderrText().trim().split('\n').filter((l) => l.trim() && !l.includes(desc ?? '\0'));
    const done = lines.length > 0 && (kept ? desc !== undefined : !dst.process.running);
    return { done, value: [...lines.map((l) => l.replace(/^qemu-system-\w+: /, '')), ...(desc ? [desc] : [])].join(' | '), state: { desc, lines } };
  }, 100);
}

export interface Observed extends PairOutcome {
  src?: StartedVm;
  ram?: RamWorkload;
  srcBin: QemuBinary;
}

/**
 * Runs a pair as it comes and says what happened, asserting nothing about the outcome:
 * the destination failing to start, refusing the stream (its own words), or a migration
 * that completed and then passed, or failed, the liveness and RAM checks.
 */
export async function observePair(c: PairCase, ctx: ScenarioContext): Promise<Observed> {
  const d = dstSetup(c);
  const env = process.env.MIGTEST_QEMU || undefined;
  const [srcBin, dstBin] = await Promise.all([findBinary(c.arch, c.src.qemu ?? env), findBinary(c.arch, d.qemu ?? env)]);
  ctx.artifacts.writeJson('case.json', { case: c, versions: { src: srcBin.version, dst: dstBin.version } });
  const src = await ctx.vms.start(configure(new VmBuilder('src', c.arch), c.src, srcBin));
  let dst: StartedVm;
  try {
    dst = await ctx.vms.start(configure(new VmBuilder('dst', c.arch).withIncoming(), d, dstBin));
  } catch (e) {
    if (!(e instanceof VmStartError)) throw e;
    await src.waitReady();
    return { outcome: 'dst-start-failed', side: 'destination', error: firstLine(e), src, srcBin };
  }
  await src.waitReady();
  const ram = await RamWorkload.start(src, WORKLOAD);
  // exit-on-error false keeps a refusing destination up to say why (9.1+); return-path lets
  // the source learn of a refusal that comes after its last byte (device state), so it
  // fails and resumes rather than believing it completed.
  const kept = compareVersions(dstBin.version, '9.1') >= 0;
  const m = await startMigration(src, dst, { capabilities: { 'return-path': true }, keepDestinationOnError: kept, expect: 'completed' });
  let r;
  try {
    r = await m.finish();
  } catch (e) {
    if (!(e instanceof MigrationFailedError)) throw e;
    return { outcome: 'refused', side: 'destination', error: await destinationError(dst, kept), src, ram, srcBin };
  }
  try {
    const { liveness } = await verifyMigration({ src, dst }, ctx, r);
    await ram.check(dst);
    return { outcome: 'migrated', downtimeMs: r.info.downtime, guestDowntimeMs: liveness.guestObservedDowntimeMs, srcBin };
  } catch (e) {
    if (!(e instanceof CheckFailedError)) throw e;
    // Evidence for a guest that died after a "successful" migration: where its vCPU is.
    const regs = await dst.qmp.hmp('info registers', { timeoutMs: scaled(10_000) }).catch((err: Error) => err.message);
    ctx.artifacts.writeJson('dst.registers.json', { 'info registers': regs.split('\n') });
    return { outcome: 'failed', error: firstLine(e), downtimeMs: r.info.downtime, srcBin };
  }
}

/**
 * Runs a pair and asserts its expectation. A refusal must come from the expected side in
 * QEMU's words; then the source must run on with intact RAM and migrate to a destination
 * that matches it.
 */
export async function runPairCase(c: PairCase, ctx: ScenarioContext): Promise<Observed> {
  if (c.expect.kind === 'skip') return ctx.skip(c.expect.reason);
  const o = await observePair(c, ctx);
  const e = c.expect;
  ctx.result.extra = { case: c.id, outcome: o.outcome, side: o.side, error: o.error };
  const said = `the ${o.side ?? 'pair'} ${o.outcome === 'migrated' ? 'migrated' : `ended '${o.outcome}': ${o.error}`}`;
  if (e.kind === 'migrates') {
    if (o.outcome !== 'migrated') throw new CheckFailedError(`${c.id}: expected to migrate${e.why ? ` (${e.why})` : ''}, but ${said}`);
    ctx.result.guestDowntimeMs = o.guestDowntimeMs;
    return o;
  }
  if (e.kind === 'guest-dies') {
    if (o.outcome !== 'failed' || !/not alive|failed the liveness check/.test(o.error ?? ''))
      throw new CheckFailedError(`${c.id}: expected QEMU to complete and the guest to die on the destination (${e.why}), but ${said}`);
    ctx.result.verdict = 'QEMU completed, the guest died on the destination, as expected';
    return o;
  }
  const want = e.kind === 'refused' ? 'refused' : 'dst-start-failed';
  if (o.outcome !== want || !o.error?.includes(e.message))
    throw new CheckFailedError(`${c.id}: expected the destination to ${e.kind === 'refused' ? 'refuse the stream' : 'fail to start'} saying "${e.message}" (${e.why}), but ${said}`);
  ctx.result.verdict = `${e.kind === 'refused' ? 'refused' : 'could not start'} on the destination, as expected`;
  await assertSourceIntact(o.src!, o.ram);
  if (o.ram) {
    // The same source to a destination that matches it: the refusal was about the mismatch.
    await retryToFreshDestination(ctx, o.src!, o.ram, { configure: (b) => configure(b, c.src, o.srcBin) });
  }
  return o;
}

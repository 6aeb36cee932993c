import type { MigrationInfo } from '../qmp/types.js';
import { deadline } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import type { StartedVm } from '../vm/started.js';
import type { MigrationSettings } from './apply.js';
import { MigrationFailedError } from './errors.js';
import { runHooks, type RunningMigration } from './migrate.js';
import { TERMINAL } from './stats.js';
import { TriggerMissedError, when, type Trigger } from './triggers.js';

export interface PostcopyOptions {
  /** postcopy-preempt: faulted pages on their own channel (usable since 8.0). */
  preempt?: boolean;
  /** postcopy-blocktime: the destination counts how long vCPUs waited on missing pages. */
  blocktime?: boolean;
  /**
   * max-postcopy-bandwidth in bytes/s while faults are injected, so postcopy lasts long
   * enough to be hit (qtest uses 4096). 0 = unlimited (QEMU's default).
   */
  bandwidth?: number;
}

/** Capabilities and parameters for a postcopy migration; both sides get the same. */
export function postcopySettings(opts: PostcopyOptions = {}): Required<MigrationSettings> {
  return {
    capabilities: {
      'postcopy-ram': true,
      ...(opts.blocktime !== false ? { 'postcopy-blocktime': true } : {}),
      ...(opts.preempt ? { 'postcopy-preempt': true } : {}),
    },
    parameters: {
      // Precopy must not finish before the switch: under a 1 ms limit it cannot converge (a
      // guest dirties more than a millisecond's worth of pages per pass), whatever the
      // machine's load or speed. Postcopy's own switchover is not bound by the limit.
      'downtime-limit': 1,
      ...(opts.bandwidth ? { 'max-postcopy-bandwidth': opts.bandwidth } : {}),
    },
  };
}

/** Merges settings so neither side's capabilities or parameters are dropped (a shallow spread would). */
export function mergeSettings(...all: Array<MigrationSettings | undefined>): Required<MigrationSettings> {
  return {
    capabilities: Object.assign({}, ...all.map((s) => s?.capabilities ?? {})),
    parameters: Object.assign({}, ...all.map((s) => s?.parameters ?? {})),
  };
}

/** The harness wanted postcopy, but the migration ended in precopy first. */
export class ConvergedInPrecopyError extends MigtestError {}

/**
 * Switches to postcopy once `after` holds (default: the first pass over RAM is done) and
 * waits until both sides say postcopy-active and the destination runs the guest.
 */
export async function switchToPostcopy(m: RunningMigration, after: Trigger = when.passes(1)): Promise<void> {
  await after.wait(m).catch(async (e: unknown) => {
    // Ended before the switch (cancelled by a hook, failed): that end is the outcome.
    if (!(e instanceof TriggerMissedError) || e.context.sample === undefined) throw e;
    const status = String((e.context.sample as { status: string }).status);
    if (status === 'completed') throw new ConvergedInPrecopyError(`${m.src.name}: migration ended 'completed' before it could switch to postcopy (it converged in precopy: throttle it with max-bandwidth or dirty more memory)`);
    throw new MigrationFailedError(`${m.src.name}: migration ended '${status}' before the switch to postcopy: ${(await m.src.queryMigrate())['error-desc'] ?? '(no error-desc)'}`, { status, info: await m.src.queryMigrate() });
  });
  const [sm, dm] = [m.src.qmp.mark(), m.dst.qmp.mark()];
  await m.src.qmp.execute('migrate-start-postcopy');
  // With pause-before-switchover, the switch stops at pre-switchover (vCPUs stopped) until the
  // migration's hook (a disk mirror to complete) ran and migrate-continue was sent.
  if (m.opts.beforeSwitchover) await runHooks(m, { beforeSwitchover: m.opts.beforeSwitchover });
  const e = await m.waitStatus((s) => s === 'postcopy-active' || TERMINAL.has(s), { what: 'to switch to postcopy-active', since: sm, timeoutMs: deadline(undefined, 'status') });
  const status = String(e.data?.status);
  if (status === 'completed')
    throw new ConvergedInPrecopyError(
      `${m.src.name}: migration ended 'completed' before it could switch to postcopy (it converged in precopy: throttle it with max-bandwidth or dirty more memory)`,
    );
  // Failed or cancelled at the switch: an outcome (the destination refusing the device state, say), not a harness error.
  if (status !== 'postcopy-active') {
    const info = await m.src.queryMigrate();
    throw new MigrationFailedError(`${m.src.name}: migration ended '${status}' at the switch to postcopy: ${info['error-desc'] ?? '(no error-desc)'}`, { info, status, stage: 'switch' });
  }
  await m.waitStatus('postcopy-active', { side: 'destination', what: 'to switch to postcopy-active', since: dm, timeoutMs: deadline(undefined, 'status') });
  // Recoverable only from here: a link lost while the destination still loads the device
  // state (before it runs the guest) fails the migration instead of pausing it.
  await m.dst.qmp.waitForEvent('RESUME', () => true, { since: dm });
}

/** Lifts the postcopy bandwidth limit so the rest goes at full speed. */
export async function unthrottlePostcopy(m: RunningMigration): Promise<void> {
  await m.src.qmp.execute('migrate-set-parameters', { 'max-postcopy-bandwidth': 0 });
}

/**
 * The destination's figures after completion: postcopy-blocktime (ms all vCPUs waited on
 * missing pages, overlapping) and per-vCPU times. Absent when the capability was off.
 */
export async function postcopyBlocktime(dst: StartedVm): Promise<{ blocktimeMs?: number; vcpuBlocktimeMs?: number[] }> {
  const info = (await dst.queryMigrate()) as MigrationInfo & { 'postcopy-vcpu-blocktime'?: number[] };
  return { blocktimeMs: info['postcopy-blocktime'], vcpuBlocktimeMs: info['postcopy-vcpu-blocktime'] };
}


/**
 * The destination's page-fault latency (QEMU 10.1+ with postcopy-blocktime): the average
 * remote fault's latency in µs (QEMU gives ns) and how many remote faults there were (the
 * sum of its latency histogram). Absent before 10.1.
 */
export async function postcopyLatency(dst: StartedVm): Promise<{ latencyUs?: number; remoteFaults?: number }> {
  const info = (await dst.queryMigrate()) as MigrationInfo & { 'postcopy-latency'?: number; 'postcopy-latency-dist'?: number[] };
  const ns = info['postcopy-latency'];
  const dist = info['postcopy-latency-dist'];
  return { latencyUs: ns === undefined ? undefined : Math.round(ns / 100) / 10, remoteFaults: dist?.reduce((a, b) => a + b, 0) };
}

import { largestGap } from '../guest/liveness.js';
import { listeningPorts } from '../host/sockets.js';
import type { RecoveryFigures } from '../report/results.js';
import type { MigrationInfo } from '../qmp/types.js';
import { MigtestError } from '../util/errors.js';
import { pollUntil, scaled } from '../util/time.js';
import type { StartedVm } from '../vm/started.js';
import type { MigrationSettings } from './apply.js';
import type { RunningMigration } from './migrate.js';
import { TERMINAL } from './stats.js';
import { when, type Trigger } from '../faults/trigger.js';

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
    parameters: opts.bandwidth ? { 'max-postcopy-bandwidth': opts.bandwidth } : {},
  };
}

/**
 * Switches to postcopy once `after` holds (default: the first pass over RAM is done) and
 * waits until both sides say postcopy-active and the destination runs the guest.
 */
export async function switchToPostcopy(m: RunningMigration, after: Trigger = when.passes(1)): Promise<void> {
  await after.wait(m);
  const [sm, dm] = [m.src.qmp.mark(), m.dst.qmp.mark()];
  await m.src.qmp.execute('migrate-start-postcopy');
  const e = await m.waitStatus((s) => s === 'postcopy-active' || TERMINAL.has(s), 'to switch to postcopy-active', scaled(60_000), sm);
  if (e.data?.status !== 'postcopy-active')
    throw new MigtestError(
      `${m.src.name}: migration ended '${e.data?.status}' before it could switch to postcopy (it converged in precopy: throttle it with max-bandwidth or dirty more memory)`,
    );
  await m.waitDstStatus((s) => s === 'postcopy-active', 'to switch to postcopy-active', scaled(60_000), dm);
  // Recoverable only from here: a link lost while the destination still loads the device
  // state (before it runs the guest) fails the migration instead of pausing it.
  await m.dst.qmp.waitForEvent('RESUME', () => true, scaled(60_000), dm);
}

/** Event indexes on both sides, taken before a fault so its consequences are not missed. */
export interface Marks {
  src: number;
  dst: number;
}

export function marks(m: RunningMigration): Marks {
  return { src: m.src.qmp.mark(), dst: m.dst.qmp.mark() };
}

/** Both sides in postcopy-paused (after a fault from `since`); returns when the later one paused. */
export async function waitBothPaused(m: RunningMigration, since: Marks, timeoutMs = scaled(60_000)): Promise<number> {
  const [s, d] = await Promise.all([
    m.waitStatus((x) => x === 'postcopy-paused', 'to pause (postcopy-paused)', timeoutMs, since.src),
    m.waitDstStatus((x) => x === 'postcopy-paused', 'to pause (postcopy-paused)', timeoutMs, since.dst),
  ]);
  return Math.max(s.receivedAt, d.receivedAt);
}

/**
 * migrate-pause on the given sides, out-of-band: in-band it could queue behind a main loop
 * blocked on a missing page. Used when the link hangs silently and nobody notices.
 */
export async function pauseSides(vms: StartedVm[]): Promise<void> {
  for (const vm of vms) await vm.qmp.executeOob('migrate-pause');
}

export interface RecoverOptions {
  /** Address the destination listens on for the new channel (default loopback). */
  listenHost?: string;
  /** Maps the destination's new URI to the one the source resumes to (a new bridge). */
  route?: (dstUri: string) => Promise<string>;
}

export interface RecoveryAttempt {
  /** Where the destination listened and where the source was sent. */
  dstUri: string;
  uri: string;
  /** postcopy-active: recovered; postcopy-paused: the recovery itself failed. */
  outcome: 'postcopy-active' | 'postcopy-paused';
  at: number;
}

export class RecoveryError extends MigtestError {}

/**
 * Starts a recovery: migrate-recover out-of-band on the destination (in-band hangs when its
 * main loop waits on a page), the new port read from /proc (the monitor may not answer),
 * then `migrate` with resume on the source. Returns once the source has connected
 * (postcopy-recover) so a fault can hit the handshake; `outcome()` waits for the end.
 */
export async function beginRecovery(m: RunningMigration, opts: RecoverOptions = {}): Promise<PendingRecovery> {
  const [src, dst] = [m.src, m.dst];
  const before = new Set(listeningPorts(dst.process.pid));
  const host = opts.listenHost ?? '127.0.0.1';
  const since = marks(m);
  await dst.qmp.executeOob('migrate-recover', { uri: `tcp:${host}:0` });
  const port = await pollUntil(`${dst.name}: a new listening port after migrate-recover`, scaled(15_000), () => {
    const now = listeningPorts(dst.process.pid);
    const fresh = now.filter((p) => !before.has(p));
    return { done: fresh.length > 0, value: fresh[0], state: { listening: now, before: [...before] } };
  });
  const dstUri = `tcp:${host}:${port}`;
  const uri = opts.route ? await opts.route(dstUri) : dstUri;
  await src.qmp.execute('migrate', { uri, resume: true });
  return new PendingRecovery(m, dstUri, uri, since);
}

export class PendingRecovery {
  constructor(
    readonly m: RunningMigration,
    readonly dstUri: string,
    readonly uri: string,
    readonly since: Marks,
  ) {}

  /** Both sides in postcopy-recover: the handshake is under way (the point to break it). */
  async inHandshake(timeoutMs = scaled(30_000)): Promise<void> {
    await Promise.all([
      this.m.waitStatus((s) => s === 'postcopy-recover', 'to enter postcopy-recover', timeoutMs, this.since.src),
      this.m.waitDstStatus((s) => s === 'postcopy-recover', 'to enter postcopy-recover', timeoutMs, this.since.dst),
    ]);
  }

  /** Waits until the source is postcopy-active again (recovered) or back in postcopy-paused. */
  async outcome(timeoutMs = scaled(60_000)): Promise<RecoveryAttempt> {
    const e = await this.m.waitStatus(
      (s) => s === 'postcopy-active' || s === 'postcopy-paused' || s === 'failed',
      'to resume postcopy (postcopy-active) after migrate resume',
      timeoutMs,
      this.since.src,
    );
    const status = String(e.data?.status);
    if (status === 'postcopy-active') this.m.resumedAt(this.since.src);
    if (status === 'failed') throw new RecoveryError(`${this.m.src.name}: migration failed during recovery`, { info: await this.m.src.queryMigrate() });
    return { dstUri: this.dstUri, uri: this.uri, outcome: status as RecoveryAttempt['outcome'], at: e.receivedAt };
  }
}

/** beginRecovery + outcome; throws unless postcopy is active again. */
export async function recoverPostcopy(m: RunningMigration, opts: RecoverOptions = {}): Promise<RecoveryAttempt> {
  const attempt = await (await beginRecovery(m, opts)).outcome();
  if (attempt.outcome !== 'postcopy-active')
    throw new RecoveryError(`${m.src.name}: recovery via ${attempt.uri} ended in ${attempt.outcome}`);
  return attempt;
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
 * Times one failure-and-recovery episode and the stall the guest felt: the longest silence
 * of the destination's heartbeat from the last beat before the fault to the first after
 * recovery (waited for, with a deadline).
 */
export async function measureEpisode(dst: StartedVm, faultAt: number, pausedAt: number, recoveredAt: number, attempts: number): Promise<RecoveryFigures> {
  const hb = dst.heartbeat!;
  const after = hb.beats.findIndex((b) => b.hostMs >= recoveredAt);
  await hb.waitForBeats(1, scaled(30_000), after >= 0 ? after : hb.beats.length);
  const firstAfter = hb.beats.findIndex((b) => b.hostMs >= recoveredAt);
  const lastBefore = hb.beats.findLastIndex((b) => b.hostMs <= faultAt);
  const window = hb.beats.slice(Math.max(0, lastBefore), firstAfter + 1);
  return {
    failureToPausedMs: pausedAt - faultAt,
    failureToRecoveredMs: recoveredAt - faultAt,
    heartbeatGapMs: largestGap(window).gapMs,
    attempts,
  };
}

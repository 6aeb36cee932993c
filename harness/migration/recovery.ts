import { largestGap } from '../guest/liveness.js';
import type { RecoveryFigures } from '../report/results.js';
import type { MigrationInfo, MigrationStatus, QmpEvent } from '../qmp/types.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { DeadlineError, MigtestError } from '../util/errors.js';
import { pollUntil } from '../util/time.js';
import type { StartedVm } from '../vm/started.js';
import type { RunningMigration, Side } from './migrate.js';

/** The index of the first event at or after host time `t`: a host time turned into a QMP mark. */
export function markAt(vm: StartedVm, t: number): number {
  const i = vm.qmp.events.findIndex((e) => e.receivedAt >= t);
  return i < 0 ? vm.qmp.events.length : i;
}

/** The side's latest MIGRATION event, if its status is `status`: it is in that state now. */
function currentlyIn(vm: StartedVm, status: MigrationStatus): QmpEvent | undefined {
  const last = vm.qmp.events.findLast((e) => e.event === 'MIGRATION');
  return last?.data?.status === status ? last : undefined;
}

/**
 * Both sides in postcopy-paused: a side already paused counts (it may never have left, e.g.
 * after a failed recovery), another must pause at or after `since` (a host time in ms; default
 * now). Returns when the later of the two paused.
 */
export async function waitBothPaused(m: RunningMigration, opts: Wait = {}): Promise<number> {
  const since = opts.since ?? Date.now();
  const pausedAt = async (side: Side): Promise<number> => {
    const vm = m.vm(side);
    const now = currentlyIn(vm, 'postcopy-paused');
    if (now) return now.receivedAt;
    const e = await m.waitStatus('postcopy-paused', { side, what: 'to pause (postcopy-paused)', since: markAt(vm, since), timeoutMs: deadline(opts, 'status') });
    return e.receivedAt;
  };
  const [s, d] = await Promise.all([pausedAt('source'), pausedAt('destination')]);
  return Math.max(s, d);
}

/**
 * migrate-pause on the given sides, out-of-band: in-band it could queue behind a main loop
 * blocked on a missing page. Used when the link hangs silently and nobody notices.
 */
export async function pauseSides(vms: StartedVm[]): Promise<void> {
  for (const vm of vms) await vm.qmp.executeOob('migrate-pause');
}

export interface RecoverOptions {
  /** Address the destination listens on for the new channel (default: its migration address, else loopback). */
  listenHost?: string;
  /** Port it listens on (default 0: the kernel picks one, read back from /proc). */
  listenPort?: number;
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
  /** Why a failed attempt failed, in QEMU's words (query-migrate or its stderr). */
  error?: string;
}

export class RecoveryError extends MigtestError {}

/**
 * Starts a recovery: migrate-recover out-of-band on the destination (in-band hangs when its
 * main loop waits on a page), its listening port read from /proc (the monitor may not
 * answer), then `migrate` with resume on the source. Returns once `migrate` was accepted, so
 * a fault can hit the handshake; `outcome()` waits for the end.
 */
export async function beginRecovery(m: RunningMigration, opts: RecoverOptions = {}): Promise<PendingRecovery> {
  const dst = m.dst;
  const before = await dst.listeningPorts();
  const host = opts.listenHost ?? dst.listenAddress ?? '127.0.0.1';
  const since = Date.now();
  await dst.qmp.executeOob('migrate-recover', { uri: `tcp:${host}:${opts.listenPort ?? 0}` });
  const [port] = await dst.waitNewListener(before, `listening for the recovery on ${host}:${opts.listenPort ?? '(a new port)'}`, { timeoutMs: deadline(undefined, 'recoveryListen'), port: opts.listenPort });
  const dstUri = `tcp:${host}:${port}`;
  const uri = opts.route ? await opts.route(dstUri) : dstUri;
  return PendingRecovery.resume(m, dstUri, uri, since);
}

/** QEMU's words when an outgoing connect fails (7.2 says it only on stderr). */
const CONNECT_FAILED = /Failed to connect[^\n]*/;

/**
 * The event that says this attempt failed: `failed`, or `postcopy-paused` once the source
 * had left postcopy-paused in this attempt's window. A paused event before that is the last
 * attempt's, delivered late (QEMU can answer query-migrate between setting a state and
 * emitting its event), and must not end this one.
 */
export function attemptFailure(events: QmpEvent[]): QmpEvent | undefined {
  let left = false;
  for (const x of events) {
    if (x.event !== 'MIGRATION') continue;
    const status = x.data?.status;
    if (status === 'failed' || (left && status === 'postcopy-paused')) return x;
    if (status !== 'postcopy-paused') left = true;
  }
  return undefined;
}

export class PendingRecovery {
  private constructor(
    readonly m: RunningMigration,
    readonly dstUri: string,
    readonly uri: string,
    /** Host time the attempt began: its events are the ones from here on. */
    readonly since: number,
    private readonly errorBefore: string | undefined,
    private readonly stderrBefore: number,
  ) {}

  /** Sends `migrate resume` on the source, noting what QEMU had said before it. */
  static async resume(m: RunningMigration, dstUri: string, uri: string, since = Date.now()): Promise<PendingRecovery> {
    const errorBefore = (await m.src.queryMigrate())['error-desc'];
    const stderrBefore = m.src.stderrText().length;
    await m.src.qmp.execute('migrate', { uri, resume: true });
    return new PendingRecovery(m, dstUri, uri, since, errorBefore, stderrBefore);
  }

  /** Sends `migrate resume` again (after a failed attempt) while the destination still listens. */
  resumeAgain(uri = this.dstUri): Promise<PendingRecovery> {
    return PendingRecovery.resume(this.m, this.dstUri, uri);
  }

  /** Both sides in postcopy-recover: the handshake is under way (the point to break it). */
  async inHandshake(opts: Wait = {}): Promise<void> {
    const wait = { what: 'to enter postcopy-recover', timeoutMs: deadline(opts, 'status') };
    await Promise.all([
      this.m.waitStatus('postcopy-recover', { ...wait, since: markAt(this.m.src, this.since) }),
      this.m.waitStatus('postcopy-recover', { ...wait, side: 'destination', since: markAt(this.m.dst, this.since) }),
    ]);
  }

  /**
   * Whether the resume already failed, by what QEMU says: a MIGRATION event (postcopy-paused
   * again, or failed), a new error-desc in query-migrate, or (7.2, which says nothing else) a
   * "Failed to connect" line on the source's stderr.
   */
  private async failedYet(): Promise<{ status: MigrationStatus; error?: string; at: number } | undefined> {
    const e = attemptFailure(this.m.src.qmp.events.slice(markAt(this.m.src, this.since)));
    const info: MigrationInfo = await this.m.src.queryMigrate();
    const newError = info['error-desc'] !== undefined && info['error-desc'] !== this.errorBefore ? info['error-desc'] : undefined;
    const said = CONNECT_FAILED.exec(this.m.src.stderrText().slice(this.stderrBefore))?.[0];
    if (info.status === 'postcopy-active') return undefined;
    if (e || (info.status === 'postcopy-paused' && (newError || said)))
      return { status: ((e?.data?.status as MigrationStatus | undefined) ?? info.status ?? 'none') as MigrationStatus, error: newError ?? said ?? info['error-desc'], at: e?.receivedAt ?? Date.now() };
    return undefined;
  }

  /** Waits until the source is postcopy-active again (recovered) or the attempt failed, whichever QEMU says first. */
  async outcome(opts: Wait = {}): Promise<RecoveryAttempt> {
    const r: { status: MigrationStatus; at: number; error?: string; index?: number } = await pollUntil(`${this.m.src.name}: postcopy to resume (postcopy-active) after migrate resume to ${this.uri}`, deadline(opts, 'status'), async () => {
      const events = this.m.src.qmp.events;
      const from = markAt(this.m.src, this.since);
      const i = events.findIndex((x, j) => j >= from && x.event === 'MIGRATION' && x.data?.status === 'postcopy-active');
      if (i >= 0) return { done: true, value: { status: 'postcopy-active' as MigrationStatus, at: events[i]!.receivedAt, error: undefined, index: i }, state: 'postcopy-active' };
      const failed = await this.failedYet();
      return { done: !!failed, value: failed, state: this.m.src.lastMigrationStatus };
    }, 50).catch((e: unknown) => {
      // A recovery that never ends is an outcome (hung), not a harness error.
      if (e instanceof DeadlineError) throw new RecoveryError(`${this.m.src.name}: the recovery via ${this.uri} did not end: ${e.message}`, { lastState: e.lastState });
      throw e;
    });
    // From the event that resumed it: an earlier attempt's postcopy-paused can share this
    // attempt's first millisecond (seen: the 10.0.2 source, a failed resume then a good one).
    if (r.status === 'postcopy-active' && r.index !== undefined) this.m.resumedAt(r.index);
    if (r.status === 'failed') throw new RecoveryError(`${this.m.src.name}: migration failed during recovery: ${r.error ?? '(no error given)'}`, { info: await this.m.src.queryMigrate() });
    return { dstUri: this.dstUri, uri: this.uri, outcome: r.status as RecoveryAttempt['outcome'], at: r.at, error: r.error };
  }
}

/** beginRecovery + outcome; throws unless postcopy is active again. */
export async function recoverPostcopy(m: RunningMigration, opts: RecoverOptions = {}): Promise<RecoveryAttempt> {
  const attempt = await (await beginRecovery(m, opts)).outcome();
  if (attempt.outcome !== 'postcopy-active')
    throw new RecoveryError(`${m.src.name}: recovery via ${attempt.uri} ended in ${attempt.outcome}: ${attempt.error ?? '(QEMU gave no reason)'}`);
  return attempt;
}

/**
 * Times one failure-and-recovery episode and the stall the guest felt: the longest silence
 * of its heartbeat from its last beat before the fault to its first after recovery (waited
 * for, with a deadline). The guest's last beat may be the source's: a guest blocked on
 * missing pages since the switchover (a throttled postcopy, QEMU 11.1) has not beaten on
 * the destination at all before the fault.
 */
export async function measureEpisode(src: StartedVm, dst: StartedVm, faultAt: number, pausedAt: number, recoveredAt: number, attempts: number): Promise<RecoveryFigures> {
  const hb = dst.heartbeat!;
  const after = hb.beats.findIndex((b) => b.hostMs >= recoveredAt);
  await hb.waitForBeats(1, { since: after >= 0 ? after : hb.beats.length });
  const beats = [...(src.heartbeat?.beats ?? []), ...hb.beats].sort((a, b) => a.hostMs - b.hostMs);
  const firstAfter = beats.findIndex((b) => b.hostMs >= recoveredAt);
  const lastBefore = beats.findLastIndex((b) => b.hostMs <= faultAt);
  const window = beats.slice(Math.max(0, lastBefore), firstAfter + 1);
  return {
    failureToPausedMs: pausedAt - faultAt,
    failureToRecoveredMs: recoveredAt - faultAt,
    heartbeatGapMs: largestGap(window).gapMs,
    attempts,
  };
}

import { CheckFailedError, DeadlineError } from '../util/errors.js';
import { deadline, scale, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import type { StartedVm } from '../vm/started.js';
import type { KernelCrash } from '../vm/crash.js';
import type { Beat } from '../vm/heartbeat.js';
import type { BeatLog } from '../vm/beats.js';
import type { AgentPulse } from '../vm/agent-pulse.js';

export class LivenessError extends CheckFailedError {}

export interface LivenessReport {
  srcLast: Beat;
  dstFirst: Beat;
  dstBeats: number;
  /** Largest host-observed gap between consecutive beats across the handover: what the guest's service lost. */
  guestObservedDowntimeMs: number;
  /** Guest monotonic clock advance across the gap (TCG stops guest time while stopped). */
  guestClockGapMs: number;
  /** Where the beats came from: the guest's heartbeat, or the agent polled (no heartbeat in the guest). */
  from: 'heartbeat' | 'agent';
  /** From the agent: the median interval between the source's answers, ms; the guest downtime is no finer than this. */
  resolutionMs?: number;
}

/**
 * Pure part of the check: the sequence src..dst must continue without a reset or a hole.
 * Returns the problems found, empty when alive and continuous.
 */
export function continuityProblems(src: Beat[], dst: Beat[], dstReadyBoot: string | undefined, srcBoot: string | undefined): string[] {
  const problems: string[] = [];
  const last = src.at(-1);
  if (!last) return ['no heartbeat from the source before migration'];
  if (dstReadyBoot !== undefined)
    problems.push(`destination guest booted again (READY boot=${dstReadyBoot}${srcBoot ? `, source boot=${srcBoot}` : ''})`);
  // A reboot can be seen (READY) before its first beat: say both.
  if (dst.length === 0) return [...problems, 'no heartbeat from the destination'];
  if (dst[0]!.n !== last.n + 1)
    problems.push(
      dst[0]!.n <= last.n
        ? `heartbeat counter restarted: source ended at ${last.n}, destination began at ${dst[0]!.n} (guest reset?)`
        : `heartbeats lost across the handover: source ended at ${last.n}, destination began at ${dst[0]!.n}`,
    );
  for (let i = 1; i < dst.length; i++) {
    if (dst[i]!.n !== dst[i - 1]!.n + 1) {
      problems.push(`heartbeat counter jumped on the destination: ${dst[i - 1]!.n} then ${dst[i]!.n}`);
      break;
    }
    if (dst[i]!.guestMono < dst[i - 1]!.guestMono) {
      problems.push(`guest monotonic clock went back on the destination: ${dst[i - 1]!.guestMono} then ${dst[i]!.guestMono}`);
      break;
    }
  }
  if (dst[0]!.guestMono < last.guestMono)
    problems.push(`guest monotonic clock went back across migration: ${last.guestMono} -> ${dst[0]!.guestMono} (guest reset?)`);
  return problems;
}

/**
 * The same for beats from the agent's polls (a guest without the heartbeat): the host counts
 * those, so continuity is the guest's boot id (the same on both sides, never a new one) and
 * its uptime (never going back, across the handover or after it).
 */
export function agentContinuityProblems(src: Beat[], dst: Beat[], boots: { src?: string; dst?: string; dstAgain?: string }): string[] {
  const problems: string[] = [];
  const last = src.at(-1);
  if (!last) return ["no answer from the source's agent before migration"];
  if (boots.dst !== undefined && boots.src !== undefined && boots.dst !== boots.src)
    problems.push(`destination guest booted again (boot id ${boots.dst}, source's ${boots.src})`);
  if (boots.dstAgain !== undefined) problems.push(`destination guest booted again after the handover (boot id ${boots.dstAgain}, before ${boots.dst ?? 'unknown'})`);
  if (dst.length === 0) return [...problems, "no answer from the destination's agent"];
  if (dst[0]!.guestMono < last.guestMono) problems.push(`guest uptime went back across migration: ${last.guestMono} -> ${dst[0]!.guestMono} s (guest reset?)`);
  for (let i = 1; i < dst.length; i++)
    if (dst[i]!.guestMono < dst[i - 1]!.guestMono) {
      problems.push(`guest uptime went back on the destination: ${dst[i - 1]!.guestMono} then ${dst[i]!.guestMono} s (guest reset?)`);
      break;
    }
  return problems;
}

/** The median interval between consecutive beats, ms (0 with fewer than two). */
export function medianInterval(beats: Beat[]): number {
  const d = beats.slice(1).map((b, i) => b.hostMs - beats[i]!.hostMs).sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)]! : 0;
}

const bootsOf = (sh: BeatLog, dh: BeatLog) => ({ src: (sh as AgentPulse).bootId, dst: (dh as AgentPulse).bootId, dstAgain: dh.readyBoot });

/** The problems with src..dst for either kind of beat. */
function problemsOf(sh: BeatLog, dh: BeatLog): string[] {
  return dh.kind === 'agent' ? agentContinuityProblems(sh.beats, dh.beats, bootsOf(sh, dh)) : continuityProblems(sh.beats, dh.beats, dh.readyBoot, sh.readyBoot);
}

/** The first pair of consecutive beats whose counter does not advance by exactly one. */
export function firstJump(beats: Beat[]): [Beat, Beat] | undefined {
  for (let i = 1; i < beats.length; i++) if (beats[i]!.n !== beats[i - 1]!.n + 1) return [beats[i - 1]!, beats[i]!];
  return undefined;
}

export function largestGap(beats: Beat[]): { gapMs: number; at?: Beat } {
  let gapMs = 0;
  let at: Beat | undefined;
  for (let i = 1; i < beats.length; i++) {
    const g = beats[i]!.hostMs - beats[i - 1]!.hostMs;
    if (g > gapMs) {
      gapMs = g;
      at = beats[i];
    }
  }
  return { gapMs, at };
}

/**
 * The source's beats that belong to the migration: from the last beat before `since` (the
 * migration's start, host ms) on; without it, the last 200. A guest restored from a snapshot
 * beats unevenly in its first moments, before any migration: that gap is not the migration's.
 */
export function switchoverWindow(beats: Beat[], since?: number): Beat[] {
  if (since === undefined) return beats.slice(-200);
  const first = beats.findIndex((b) => b.hostMs >= since);
  return first < 0 ? beats.slice(-1) : beats.slice(Math.max(0, first - 1));
}

/**
 * After switchover: the destination's guest must keep beating, continuing the source's
 * counter. Waits for `beats` beats on the destination with a deadline, then checks continuity.
 * `since` (the migration's start) bounds the source's beats the guest downtime is taken from.
 */
export async function checkLivenessAfterMigration(
  src: StartedVm,
  dst: StartedVm,
  opts: { beats?: number; since?: number } & Wait = {},
): Promise<LivenessReport> {
  const beats = opts.beats ?? 30;
  const timeoutMs = deadline(opts, 'liveness');
  const sh = src.heartbeat as BeatLog;
  const dh = dst.heartbeat as BeatLog;
  const what = dh.kind === 'agent' ? "answers from the destination's agent" : `heartbeats from ${dh.vm}`;
  try {
    // A reboot or a counter that restarted or jumped is proof enough: no need to wait out the deadline.
    const proofOfReset = () =>
      dh.kind === 'agent'
        ? dh.beats.length > 0 && problemsOf(sh, dh).length > 0
        : dh.readyBoot !== undefined || (dh.beats.length > 0 && sh.last !== undefined && dh.beats[0]!.n <= sh.last.n) || firstJump(dh.beats) !== undefined;
    // A guest kernel that died on the destination will never beat again: its console ends the
    // wait at once (read every 250 ms, not on every poll: a system guest's console is long).
    let crash: KernelCrash | undefined;
    let consoleReadAt = 0;
    const crashed = () => {
      if (Date.now() - consoleReadAt < 250) return crash;
      consoleReadAt = Date.now();
      // A stall alone may be a busy host, and the guest may go on: only a death ends the wait.
      return (crash = dst.kernelCrash(true));
    };
    // Some of what the kernel calls a BUG it survives: a death is its console's word and 2 s of silence.
    const silent = () => Date.now() - (dh.last?.hostMs ?? 0) > 2_000;
    await pollUntil(`${beats} ${what}`, timeoutMs, () => ({
      done: dh.beats.length >= beats || proofOfReset() || (silent() && !!crashed()),
      state: { received: dh.beats.length, last: dh.last, closed: dh.isClosed },
    }), 20);
    if (crash && dh.beats.length < beats)
      throw new LivenessError(`destination guest is not alive: its kernel crashed (console: ${crash.excerpt.slice(0, 3).join(' | ')}) after ${dh.beats.length} ${what}`);
  } catch (e) {
    if (!(e instanceof DeadlineError)) throw e;
    const status = await dst.status().catch((err: Error) => ({ status: `unknown (${err.message})` }));
    const lastOf = (b: Beat | undefined) => (b === undefined ? 'none' : dh.kind === 'agent' ? `uptime ${b.guestMono} s` : b.n);
    throw new LivenessError(
      `destination guest is not alive: ${dh.beats.length} of ${beats} ${what} within ${(scale(timeoutMs) / 1000).toFixed(1)}s ` +
        `(source's last: ${lastOf(sh.last)}, destination's last: ${lastOf(dh.last)}, destination status: ${status.status})`,
    );
  }
  // From the agent, the boot id is asked again at the end: a reset whose new agent answered
  // every poll in time left no unanswered poll to make the pulse ask.
  if (dh.kind === 'agent') await (dh as AgentPulse).checkBootId();
  const problems = problemsOf(sh, dh);
  if (problems.length) throw new LivenessError(`destination guest failed the liveness check: ${problems.join('; ')}`);
  const srcLast = sh.last!;
  const dstFirst = dh.beats[0]!;
  const window = switchoverWindow(sh.beats, opts.since);
  return {
    srcLast,
    dstFirst,
    dstBeats: dh.beats.length,
    guestObservedDowntimeMs: largestGap([...window, ...dh.beats]).gapMs,
    guestClockGapMs: (dstFirst.guestMono - srcLast.guestMono) * 1000,
    from: dh.kind,
    // Taken before the migration's start: the switchover's own gap is what is measured.
    ...(dh.kind === 'agent' ? { resolutionMs: medianInterval(sh.beats.filter((b) => opts.since === undefined || b.hostMs <= opts.since).slice(-100)) || medianInterval(sh.beats) } : {}),
  };
}

/**
 * The handover in one line, for a suite's own assertion: `continued` when the destination's
 * first beat follows the source's last (the next counter value; from the agent, an uptime
 * not gone back), else what was seen.
 */
export function handover(l: LivenessReport): string {
  const ok = l.from === 'agent' ? l.dstFirst.guestMono >= l.srcLast.guestMono : l.dstFirst.n === l.srcLast.n + 1;
  return ok ? 'continued' : l.from === 'agent' ? `uptime ${l.srcLast.guestMono} s then ${l.dstFirst.guestMono} s` : `beat ${l.srcLast.n} then ${l.dstFirst.n}`;
}

/** The control: the same guest without migrating keeps beating continuously for durationMs. */
export async function checkLivenessSteady(vm: StartedVm, durationMs: number): Promise<{ beats: number; largestGapMs: number }> {
  const hb = vm.heartbeat as BeatLog;
  const since = hb.beats.length;
  // Observe a window measured in beats, waited on with a deadline.
  await hb.waitForBeats(Math.ceil(durationMs / hb.periodMs), { timeoutMs: durationMs * 4 + 10_000, since });
  const window = hb.beats.slice(Math.max(0, since - 1));
  const jump = firstJump(window);
  if (jump) throw new LivenessError(`${vm.name}: heartbeat counter jumped without migration: ${jump[0].n} then ${jump[1].n}`);
  if (hb.readyBoot && hb.readyAt && hb.readyAt > (hb.beats[since]?.hostMs ?? 0))
    throw new LivenessError(`${vm.name}: guest rebooted without migration`);
  const back = hb.kind === 'agent' ? agentContinuityProblems(window.slice(0, 1), window.slice(1), {}).filter((p) => /went back/.test(p)) : [];
  if (back.length) throw new LivenessError(`${vm.name}: ${back.join('; ')} without migration`);
  return { beats: window.length, largestGapMs: largestGap(window).gapMs };
}

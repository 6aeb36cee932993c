import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupProcess } from '../host/process.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { CheckFailedError, DeadlineError, MigtestError } from '../util/errors.js';
import type { NetSummary } from '../report/results.js';
import { DEADLINES, deadline, scale, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import type { GuestLan } from './lan.js';
import { repoRoot } from '../util/paths.js';

export class NetProbeError extends MigtestError {}

/** The peer lost the guest: no replies where the guest should answer. */
export class NetLivenessError extends CheckFailedError {}

/** What the peer saw of the guest on the network (all times CLOCK_REALTIME ms). */
export interface NetFigures {
  intervalMs: number;
  sent: number;
  replies: number;
  /** Requests never answered, though a later one was. */
  lost: number;
  /** Longest time between two consecutive replies, and when it started and ended. */
  maxGapMs: number;
  gapFrom: number;
  gapTo: number;
  lastReplyAt?: number;
  /** Announce frames from the guest's MAC: QEMU's RARPs and the guest's gratuitous ARPs. */
  rarp: number[];
  garp: number[];
}

/** Reads netprobe.py's lines. Pure. */
export function analyzeProbe(text: string, intervalMs: number): NetFigures {
  const sent = new Map<number, number>();
  const replies: Array<{ seq: number; t: number }> = [];
  const rarp: number[] = [];
  const garp: number[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === 'S') sent.set(Number(f[1]), Number(f[2]) * 1000);
    else if (f[0] === 'R') replies.push({ seq: Number(f[1]), t: Number(f[2]) * 1000 });
    else if (f[0] === 'A') (f[1] === 'rarp' ? rarp : garp).push(Number(f[3]) * 1000);
  }
  // Lost: unanswered although a later request was answered (the newest ones may be under way).
  const answered = new Set(replies.map((r) => r.seq));
  const lastAnsweredSent = Math.max(0, ...[...answered].map((q) => sent.get(q) ?? 0));
  let lost = 0;
  for (const [seq, t] of sent) if (!answered.has(seq) && t < lastAnsweredSent) lost++;
  let maxGapMs = 0;
  let gapFrom = 0;
  let gapTo = 0;
  for (let i = 1; i < replies.length; i++) {
    const gap = replies[i]!.t - replies[i - 1]!.t;
    if (gap > maxGapMs) [maxGapMs, gapFrom, gapTo] = [gap, replies[i - 1]!.t, replies[i]!.t];
  }
  return { intervalMs, sent: sent.size, replies: replies.length, lost, maxGapMs, gapFrom, gapTo, lastReplyAt: replies.at(-1)?.t, rarp, garp };
}

/**
 * A peer on the guest's LAN: pings the guest every intervalMs from the bridge's address and
 * captures announce frames on the bridge (netprobe.py, in its own process group).
 */
export class NetProbe {
  private constructor(
    private readonly proc: GroupProcess,
    private readonly logFile: string,
    readonly intervalMs: number,
  ) {}

  static async start(lan: GuestLan, mac: string, artifacts: ArtifactDir, intervalMs = 10): Promise<NetProbe> {
    const logFile = artifacts.file('netprobe.log');
    const script = join(repoRoot, 'harness/net/netprobe.py');
    const args = ['netns', 'exec', lan.netns, 'python3', script, '--target', lan.guestAddr, '--interval', String(intervalMs / 1000), '--bridge', lan.bridge, '--mac', mac];
    const proc = GroupProcess.spawn('ip', args, { name: 'netprobe', stdoutFile: logFile, stderrFile: artifacts.file('netprobe.stderr.log') });
    const probe = new NetProbe(proc, logFile, intervalMs);
    await pollUntil('netprobe to open its sockets', DEADLINES.peer, () => {
      const text = probe.text();
      if (!proc.running) throw new NetProbeError(`netprobe exited (${JSON.stringify(proc.exit)}): ${readFileSync(artifacts.file('netprobe.stderr.log'), 'utf8').trim()}`);
      return { done: text.startsWith('READY'), state: text.slice(0, 80) || '(no output)' };
    });
    return probe;
  }

  private text(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Figures so far (the probe keeps running). */
  figures(): NetFigures {
    return analyzeProbe(this.text(), this.intervalMs);
  }

  /**
   * The network liveness check: the guest answers n pings after `since` (host time in ms,
   * e.g. the destination's RESUME; default 0) in time; NetLivenessError says what the peer saw.
   */
  async waitAnswering(n: number, opts: Wait = {}): Promise<void> {
    const since = opts.since ?? 0;
    const timeoutMs = deadline(opts, 'beats');
    await pollUntil(`the guest to answer ${n} pings`, timeoutMs, () => {
      // One read of the log per poll, for both the figures and the replies since `since`.
      const text = this.text();
      const f = analyzeProbe(text, this.intervalMs);
      const recent = text.split('\n').filter((l) => l.startsWith('R ') && Number(l.split(' ')[2]) * 1000 >= since).length;
      return { done: recent >= n, state: { sent: f.sent, replies: f.replies, repliesSince: recent } };
    }, 50).catch((e: unknown) => {
      if (!(e instanceof DeadlineError)) throw e;
      const f = this.figures();
      const lastReply = f.lastReplyAt ? `; the last reply came ${((Date.now() - f.lastReplyAt) / 1000).toFixed(1)} s ago` : '';
      throw new NetLivenessError(
        `the guest answered fewer than ${n} pings in ${(scale(timeoutMs) / 1000).toFixed(1)} s (every ${this.intervalMs} ms from the bridge; ${f.sent} sent, ${f.replies} answered${lastReply})`,
        { figures: { ...f, rarp: f.rarp.length, garp: f.garp.length } },
      );
    });
  }

  /**
   * The figures for results.json: announce frames counted from the source's stop (the first
   * RARP can carry a timestamp just before the destination's RESUME event), timed from RESUME.
   */
  summary(resumedAt: number, vhost: boolean, stoppedAt = resumedAt): NetSummary {
    const f = this.figures();
    const rarp = f.rarp.filter((t) => t >= stoppedAt);
    const garp = f.garp.filter((t) => t >= stoppedAt);
    const first = Math.min(...rarp, ...garp);
    return {
      intervalMs: f.intervalMs,
      sent: f.sent,
      lost: f.lost,
      maxGapMs: Math.round(f.maxGapMs),
      rarp: rarp.length,
      garp: garp.length,
      firstAnnounceMs: Number.isFinite(first) ? Math.round(first - resumedAt) : undefined,
      vhost,
    };
  }

  /** Stops pinging (SIGSTOP to its group): the guest gets no traffic to answer. */
  pause(): void {
    this.proc.signal('SIGSTOP');
  }

  resume(): void {
    this.proc.signal('SIGCONT');
  }

  /** Waits until no reply came for `quietMs` (pings in flight when pause() stopped the sender answered or lost). */
  async waitQuiet(quietMs: number, opts: Wait = {}): Promise<void> {
    let replies = -1;
    let since = Date.now();
    await pollUntil(`no ping reply for ${quietMs} ms`, deadline(opts, 'peer'), () => {
      const now = this.figures().replies;
      if (now !== replies) (replies = now), (since = Date.now());
      return { done: Date.now() - since >= quietMs, state: { replies } };
    }, 20);
  }

  async stop(): Promise<NetFigures> {
    this.resume();
    if (this.proc.running) await this.proc.stop({ termMs: DEADLINES.teardownQuick });
    return this.figures();
  }
}

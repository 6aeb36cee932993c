import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupProcess } from '../host/process.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { MigtestError } from '../util/errors.js';
import { pollUntil, scaled } from '../util/time.js';
import type { GuestLan } from './lan.js';
import { repoRoot } from '../util/paths.js';

export class NetProbeError extends MigtestError {}

/** What the peer saw of the guest on the network (all times CLOCK_REALTIME ms). */
export interface NetFigures {
  intervalMs: number;
  sent: number;
  replies: number;
  /** Requests never answered (the last second before the probe stopped is not counted). */
  lost: number;
  /** Longest time between two consecutive replies, and when it started and ended. */
  maxGapMs: number;
  gapFrom: number;
  gapTo: number;
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
  let last = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === 'S') sent.set(Number(f[1]), Number(f[2]) * 1000);
    else if (f[0] === 'R') replies.push({ seq: Number(f[1]), t: Number(f[2]) * 1000 });
    else if (f[0] === 'A') (f[1] === 'rarp' ? rarp : garp).push(Number(f[3]) * 1000);
    const t = Number(f.at(-1)) * 1000;
    if (Number.isFinite(t)) last = Math.max(last, t);
  }
  const answered = new Set(replies.map((r) => r.seq));
  let lost = 0;
  for (const [seq, t] of sent) if (!answered.has(seq) && t < last - 1000) lost++;
  let maxGapMs = 0;
  let gapFrom = 0;
  let gapTo = 0;
  for (let i = 1; i < replies.length; i++) {
    const gap = replies[i]!.t - replies[i - 1]!.t;
    if (gap > maxGapMs) [maxGapMs, gapFrom, gapTo] = [gap, replies[i - 1]!.t, replies[i]!.t];
  }
  return { intervalMs, sent: sent.size, replies: replies.length, lost, maxGapMs, gapFrom, gapTo, rarp, garp };
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
    await pollUntil('netprobe to open its sockets', scaled(10_000), () => {
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

  /** Waits until the guest has answered n requests in a row after `since` (ms, realtime). */
  async waitAnswering(n: number, since = 0, timeoutMs = scaled(30_000)): Promise<void> {
    await pollUntil(`the guest to answer ${n} pings in a row`, timeoutMs, () => {
      const f = this.figures();
      const recent = this.text().split('\n').filter((l) => l.startsWith('R ') && Number(l.split(' ')[2]) * 1000 >= since).length;
      return { done: recent >= n, state: { sent: f.sent, replies: f.replies, sinceReplies: recent } };
    }, 50);
  }

  async stop(): Promise<NetFigures> {
    if (this.proc.running) await this.proc.stop({ termMs: 3000 });
    return this.figures();
  }
}

import { constants } from 'node:os';
import { deadline, type Wait } from '../../util/deadlines.js';
import { pollUntil, sleep } from '../../util/time.js';
import type { HostProcess } from '../host.js';
import { escalateStop, type ExitInfo, type StopOptions } from '../process.js';
import { unregister } from '../registry.js';
import type { SshHost } from './host.js';

// sh's exit status for a process killed by signal n is 128 + n: both ways here.
const SIGNALS = Object.fromEntries(Object.entries(constants.signals).map(([name, n]) => [n, name]));
export const shellStatus = (signal: string): number => 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0);

/** `wait`'s status as sh reports it -> how the process ended, as a local exit says it. */
export function shellExit(status: number): ExitInfo {
  const sig = status > 128 ? SIGNALS[status - 128] : undefined;
  return sig ? { code: undefined, signal: sig } : { code: status, signal: undefined };
}

/** A process group on an ssh host. */
export class SshProcess implements HostProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private resolveExit!: (e: ExitInfo) => void;
  private waiterGone = false;

  constructor(
    private readonly host: SshHost,
    readonly name: string,
    readonly pid: number,
    readonly startTime: number,
    readonly argv: readonly string[],
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  signal(sig: 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    return this.host.killGroup(this.pid, this.startTime, sig.slice(3) as 'TERM').then(() => undefined, () => undefined);
  }

  ended(e: ExitInfo): void {
    if (this.exitInfo) return;
    this.exitInfo = e;
    unregister(this.pid, this.host.name);
    this.resolveExit(e);
  }

  /** The waiter's channel closed: the process may still run (a lost link) or may have ended. */
  channelClosed(): void {
    this.waiterGone = true;
  }

  /** Alive on the host with the same start time (a reused pid is not ours). */
  async alive(): Promise<boolean> {
    if (!this.running) return false;
    const st = await this.host.procStat(this.pid);
    const alive = !!st && st.startTime === this.startTime && st.state !== 'Z';
    if (!alive && this.waiterGone) this.ended({ code: undefined, signal: 'unknown (ended while the control link was down)' });
    return alive;
  }

  private async kill(sig: 'TERM' | 'KILL'): Promise<void> {
    await this.host.killGroup(this.pid, this.startTime, sig).catch(() => undefined);
  }

  async waitExit(opts: Wait = {}): Promise<ExitInfo> {
    // Its waiter's channel may be gone with a lost link: then /proc on the host tells.
    await pollUntil(`${this.name} (pid ${this.pid} on host ${this.host.name}) to exit`, deadline(opts, 'killed'), async () => {
      if (this.running && this.waiterGone) await this.alive();
      if (this.running) await Promise.race([this.exited, sleep(200)]);
      return { done: !this.running, state: 'running' };
    }, 0);
    return this.exited;
  }

  stop(opts: StopOptions = {}): Promise<ExitInfo> {
    return escalateStop(this, (sig) => this.kill(sig === 'SIGTERM' ? 'TERM' : 'KILL'), opts, `${this.name} (pid ${this.pid} on host ${this.host.name})`);
  }
}


import { DEADLINES, deadline, scale, type Wait } from '../util/deadlines.js';
import { execa, type ResultPromise } from 'execa';
import { DeadlineError, MigtestError } from '../util/errors.js';
import { sleep, withDeadline } from '../util/time.js';
import { groupMembers, procStat } from './procfs.js';
import { register, selfIdentity, unregister } from './registry.js';
import { ensureWatchdog } from './watchdog.js';
import type { HostProcess } from './host.js';

export interface ExitInfo {
  code: number | undefined;
  signal: string | undefined;
}

export interface SpawnOptions {
  /** Short label used in the registry, logs and errors ("src", "dst", "bridge"). */
  name: string;
  stdoutFile?: string;
  stderrFile?: string;
  env?: Record<string, string>;
  /** File descriptors the child inherits as fd 3, 4, ... (the fd: migration transport). */
  extraFds?: number[];
}

export interface StopOptions {
  /** A polite request first (QMP quit); the process gets graceMs to exit after it. */
  graceful?: () => Promise<unknown>;
  graceMs?: number;
  termMs?: number;
  killMs?: number;
}

export class ProcessStopError extends MigtestError {}

/**
 * A helper process (QEMU, socat) in its own process group, registered on disk so that the
 * reaper or the watchdog can remove it if this runner dies. Killed by its group, never by name.
 */
export class GroupProcess implements HostProcess {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  readonly startTime: number;

  private constructor(
    readonly name: string,
    readonly argv: readonly string[],
    private readonly child: ResultPromise,
  ) {
    this.startTime = procStat(this.pid)?.startTime ?? 0;
    this.exited = child.then((r) => {
      this.exitInfo = { code: r.exitCode, signal: r.signal };
      return this.exitInfo;
    });
    void this.exited.finally(() => this.cleanupGroup());
  }

  static spawn(file: string, args: readonly string[], opts: SpawnOptions): GroupProcess {
    ensureWatchdog();
    const child = execa(file, args, {
      detached: true, // setsid(): its own session and process group
      cleanup: false, // the registry and the watchdog do this, even after SIGKILL
      reject: false,
      stdio: [
        'ignore',
        opts.stdoutFile ? { file: opts.stdoutFile, append: true } : 'ignore',
        opts.stderrFile ? { file: opts.stderrFile, append: true } : 'ignore',
        // execa passes integer fds through to the child (its types only admit them for 0-2).
        ...((opts.extraFds ?? []) as unknown as 'ignore'[]),
      ],
      env: opts.env,
    });
    if (child.pid === undefined) throw new MigtestError(`could not start ${opts.name}: ${file}`);
    const p = new GroupProcess(opts.name, [file, ...args], child);
    register({
      pgid: child.pid,
      startTime: p.startTime,
      name: opts.name,
      argv: p.argv as string[],
      owner: selfIdentity(),
      createdAt: new Date().toISOString(),
    });
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Signals the whole group (a forking socat's children too). */
  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, sig);
    } catch {
      /* group already gone */
    }
  }

  async waitExit(opts: Wait = {}): Promise<ExitInfo> {
    return withDeadline(`${this.name} (pid ${this.pid}) to exit`, deadline(opts, 'killed'), this.exited, () => 'running');
  }

  /** Escalates: graceful request, SIGTERM, SIGKILL, each with a deadline (unscaled). */
  stop(opts: StopOptions = {}): Promise<ExitInfo> {
    return escalateStop(this, (sig) => this.signal(sig), opts, `${this.name} (pid ${this.pid})`);
  }

  /** After the leader exits, kill what is left of its group, then forget it. */
  private cleanupGroup(): void {
    for (const m of groupMembers(this.pid, this.startTime)) {
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    unregister(this.pid);
  }
}

/**
 * The escalation every process group gets, wherever it runs: a graceful request, SIGTERM,
 * SIGKILL (a QEMU in postcopy-paused ignores SIGTERM), each with a deadline (unscaled).
 */
export async function escalateStop(
  p: Pick<HostProcess, 'running' | 'waitExit' | 'exited'>,
  kill: (sig: 'SIGTERM' | 'SIGKILL') => unknown,
  opts: StopOptions,
  who: string,
): Promise<ExitInfo> {
  const { graceMs = DEADLINES.teardownGrace, termMs = DEADLINES.teardownTerm, killMs = DEADLINES.teardownKill } = opts;
  // A step's deadline passing is no error here: the next, harder signal follows.
  const exits = (timeoutMs: number) => p.waitExit({ timeoutMs }).then(() => true, (e: unknown) => {
    if (e instanceof DeadlineError) return false;
    throw e;
  });
  if (p.running && opts.graceful) {
    await Promise.race([opts.graceful().catch(() => undefined), sleep(scale(graceMs))]);
    await exits(graceMs);
  }
  if (p.running) {
    await kill('SIGTERM');
    await exits(termMs);
  }
  if (p.running) {
    await kill('SIGKILL');
    if (!(await exits(killMs))) throw new ProcessStopError(`${who} survived SIGKILL for ${killMs} ms`);
  }
  return p.exited;
}

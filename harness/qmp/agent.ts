import { randomInt } from 'node:crypto';
import pRetry from 'p-retry';
import { CheckFailedError, DeadlineError, MigtestError } from '../util/errors.js';
import { DEADLINES, deadline, scale, type Wait } from '../util/deadlines.js';
import { progress } from '../util/log.js';
import { JsonConnection, type SocketTarget } from './connection.js';
import { Transcript } from './transcript.js';
import { QmpCommandError } from './errors.js';

/** A guest command ended non-zero. */
export class GuestCommandError extends MigtestError {}

/** The agent went unanswered and the guest's console says its kernel died: no use asking again. */
export class GuestCrashedError extends MigtestError {}

/**
 * The guest reset or shut down (QEMU's RESET, SHUTDOWN or GUEST_PANICKED): its agent process is
 * gone, so an exchange still waiting is never answered and fails with this at once.
 */
export class GuestResetError extends CheckFailedError {}

/** Reads the guest's console for a kernel crash; the line that says so, or undefined. */
export type CrashProbe = () => string | undefined;

export interface GuestExecResult {
  exitcode: number;
  stdout: string;
  stderr: string;
}

/**
 * qemu-guest-agent over the same framing as QMP. The agent has no greeting; guest-sync-delimited
 * flushes stale bytes (a reply meant for a previous client) before the first real command.
 */
export class GuestAgentClient {
  /** Times an exchange went unanswered and the connection was remade (also in the transcript). */
  reconnects = 0;
  /** Why it was closed, once it was: a reconnect then stops. */
  private closedFor: Error | undefined;

  private constructor(
    private readonly path: SocketTarget,
    private readonly vm: string,
    private readonly transcript: Transcript,
    private conn: JsonConnection,
    private readonly crashed: CrashProbe,
  ) {}

  /** Connects and syncs until the agent answers: its port may open late. */
  static async connect(path: SocketTarget, vm: string, transcriptFile?: string, opts: Wait & { crashed?: CrashProbe; abandoned?: () => boolean } = {}): Promise<GuestAgentClient> {
    const transcript = new Transcript(`${vm}.qga`, transcriptFile);
    const client = new GuestAgentClient(path, vm, transcript, await GuestAgentClient.dial(path, vm, transcript), opts.crashed ?? (() => undefined));
    try {
      await client.syncUntilAnswered(deadline(opts, 'agent'), opts.abandoned);
    } catch (e) {
      // The agent's port takes one client at a time: a connection left open would keep the next one waiting.
      await client.close();
      throw e;
    }
    return client;
  }

  private static async dial(path: SocketTarget, vm: string, transcript: Transcript): Promise<JsonConnection> {
    const socket = await JsonConnection.open(path, vm, transcript, DEADLINES.connect);
    return new JsonConnection(vm, socket, transcript, DEADLINES.command);
  }

  /** Syncs until answered; `abandoned` (its VM stopped, its connection dropped) ends the retries at once. */
  private async syncUntilAnswered(timeoutMs: number, abandoned: () => boolean = () => false): Promise<void> {
    const end = Date.now() + scale(timeoutMs);
    try {
      await pRetry(() => this.sync(2_000), { retries: 1000, minTimeout: 200, maxTimeout: 500, shouldRetry: () => Date.now() < end && !this.crashed() && !abandoned() });
    } catch (e) {
      this.throwIfCrashed('guest-sync-delimited');
      throw e;
    }
  }

  private throwIfCrashed(what: string): void {
    const why = this.crashed();
    if (why) throw new GuestCrashedError(`${this.vm}: guest agent left ${what} unanswered: the guest kernel crashed (console: ${why})`, { vm: this.vm });
  }

  /** Syncs the stream: the agent echoes a random id back; anything before it is stale. */
  async sync(timeoutMs: number = DEADLINES.agentSync): Promise<void> {
    const token = randomInt(1, 2 ** 31);
    const id = `sync-${token}`;
    await this.conn.request(
      { execute: 'guest-sync-delimited', arguments: { id: token }, id },
      id,
      'guest-sync-delimited',
      { timeoutMs },
    );
  }

  /**
   * Runs an exchange that is safe to repeat; left unanswered, it remakes the connection once
   * and asks again. Seen with QEMU 7.2 (aarch64, TCG) just after an incoming migration: a
   * sync answered, the next command never. The agent is the harness's control channel, not
   * the device under test; the reconnect is logged, counted and in the transcript.
   */
  private async repeatable<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof DeadlineError)) throw e;
      this.throwIfCrashed(what);
      this.reconnects++;
      this.transcript.record('!!', `${what}: ${e.message}; reconnecting to ask again`);
      progress(`${this.vm}: guest agent left ${what} unanswered; reconnecting`);
      this.conn.close();
      this.conn = await GuestAgentClient.dial(this.path, this.vm, this.transcript);
      // Closed meanwhile (its guest reset, its VM stopped): the new connection must not hold the port.
      if (this.closedFor) {
        this.conn.close(this.closedFor);
        throw this.closedFor;
      }
      await this.syncUntilAnswered(DEADLINES.agent);
      return fn();
    }
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    const id = this.conn.nextId('ga');
    const msg: Record<string, unknown> = { execute: command, id };
    if (args) msg.arguments = args;
    return this.conn.request<T>(msg, id, command, { timeoutMs });
  }

  ping(timeoutMs?: number): Promise<unknown> {
    return this.repeatable('guest-ping', () => this.execute('guest-ping', undefined, timeoutMs));
  }

  /** Runs a program in the guest and waits for it; returns exit code and decoded output. */
  async exec(path: string, args: string[] = [], opts: Wait = {}): Promise<GuestExecResult> {
    return this.waitExec(await this.spawn(path, args), path, opts);
  }

  /**
   * Runs a shell command line in the guest. The image has no /bin/sh, only busybox's sh: this
   * is the one place that knows it. Throws GuestCommandError on a non-zero exit.
   */
  async sh(script: string, opts: Wait = {}): Promise<GuestExecResult> {
    const r = await this.exec('/bin/busybox', ['sh', '-c', script], opts);
    if (r.exitcode !== 0) throw new GuestCommandError(`guest: sh -c ${JSON.stringify(script)} exited ${r.exitcode}: ${(r.stderr || r.stdout).trim()}`, { result: r });
    return r;
  }

  /** Starts a program in the guest and returns its pid; its status outlives a migration (the agent is in the guest). */
  async spawn(path: string, args: string[] = []): Promise<number> {
    const { pid } = await this.execute<{ pid: number }>('guest-exec', { path, arg: args, 'capture-output': true });
    return pid;
  }

  /** Waits for a program started with spawn() to exit. */
  async waitExec(pid: number, what = `guest pid ${pid}`, opts: Wait = {}): Promise<GuestExecResult> {
    const timeoutMs = scale(deadline(opts, 'guestExec'));
    const end = Date.now() + timeoutMs;
    // Most guest commands end within tens of ms: ask soon, then back off to every 100 ms.
    let pauseMs = 10;
    for (;;) {
      const st = await this.repeatable(`status of ${what}`, () => this.execute<{
        exited: boolean;
        exitcode?: number;
        'out-data'?: string;
        'err-data'?: string;
      }>('guest-exec-status', { pid }));
      if (st.exited)
        return {
          exitcode: st.exitcode ?? -1,
          stdout: Buffer.from(st['out-data'] ?? '', 'base64').toString(),
          stderr: Buffer.from(st['err-data'] ?? '', 'base64').toString(),
        };
      if (Date.now() > end) throw new DeadlineError(`${what} in the guest to exit`, timeoutMs, 'still running');
      await new Promise((r) => setTimeout(r, pauseMs));
      pauseMs = Math.min(100, pauseMs * 2);
    }
  }

  /**
   * Whether the guest can open this file for reading (guest-file-open). Only "no such file"
   * is false: an agent that refuses the command (--block-rpcs, a policy) or a file it may not
   * read throws, saying so, rather than passing for a missing file.
   */
  async exists(path: string): Promise<boolean> {
    const handle = await this.execute<number>('guest-file-open', { path, mode: 'r' }).catch((e: unknown) => {
      if (e instanceof QmpCommandError && isMissingFile(e)) return undefined;
      throw e;
    });
    if (handle === undefined) return false;
    await this.execute('guest-file-close', { handle });
    return true;
  }

  /** Reads a whole guest file with guest-file-open/read/close. */
  readFile(path: string, chunk = 1 << 20): Promise<Buffer> {
    return this.repeatable(`reading ${path}`, () => this.readOnce(path, chunk));
  }

  /**
   * One read of a whole guest file, asked once (no reconnect), each exchange within
   * `timeoutMs`: for a caller that judges a miss itself (the agent's liveness pulse).
   */
  async readOnce(path: string, chunk = 1 << 20, timeoutMs?: number): Promise<Buffer> {
    const handle = await this.execute<number>('guest-file-open', { path, mode: 'r' }, timeoutMs);
    try {
      const parts: Buffer[] = [];
      for (;;) {
        const r = await this.execute<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', { handle, count: chunk }, timeoutMs);
        parts.push(Buffer.from(r['buf-b64'], 'base64'));
        if (r.eof || r.count === 0) return Buffer.concat(parts);
      }
    } finally {
      await this.execute('guest-file-close', { handle }, timeoutMs);
    }
  }

  /** Writes a whole guest file with guest-file-open/write/close. */
  async writeFile(path: string, data: Buffer | string): Promise<void> {
    const handle = await this.execute<number>('guest-file-open', { path, mode: 'w' });
    try {
      await this.execute('guest-file-write', { handle, 'buf-b64': Buffer.from(data).toString('base64') });
    } finally {
      await this.execute('guest-file-close', { handle });
    }
  }

  /** Whether its connection closed (QEMU exited, the link to its host broke): ask the VM for a new one. */
  get closed(): boolean {
    return this.conn.closed;
  }

  /** Closes it; with `reason`, an exchange still waiting fails with that at once. */
  async close(reason?: Error): Promise<void> {
    this.closedFor ??= reason ?? new GuestCommandError(`${this.vm}: the guest agent connection was closed`);
    this.conn.close(reason);
    await this.transcript.close();
  }
}

/** The agent's answer for a path that is not there (ENOENT, or ENOTDIR for a parent that is a file). */
export const isMissingFile = (e: QmpCommandError): boolean => e.errorClass === 'GenericError' && /No such file or directory|Not a directory/.test(e.desc);

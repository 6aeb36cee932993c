import { DeadlineError } from '../util/errors.js';
import { DEADLINES, deadline, scale, type Wait } from '../util/deadlines.js';
import { JsonConnection, type CommandOptions, type SocketTarget } from './connection.js';
import { Transcript } from './transcript.js';
import type { QmpEvent, QmpGreeting, QemuVersion } from './types.js';

export interface QmpConnectOptions {
  /** Label used in errors and the transcript ("src", "dst"). */
  vm: string;
  transcriptFile?: string;
  timeoutMs?: number;
}

/**
 * Our own QMP client: ids on every command, OOB when offered, events kept in order with
 * their arrival time, deadlines everywhere, and a transcript of both directions.
 */
export class QmpClient {
  readonly events: QmpEvent[] = [];
  private waiters = new Set<() => void>();

  private constructor(
    private readonly conn: JsonConnection,
    readonly greeting: QmpGreeting,
    readonly oob: boolean,
  ) {
    conn.onUnsolicited = (msg) => {
      if (typeof msg.event === 'string') {
        this.events.push({ ...(msg as unknown as QmpEvent), receivedAt: Date.now() });
        for (const w of this.waiters) w();
      }
    };
    conn.onClose = () => {
      for (const w of this.waiters) w();
    };
  }

  static async connect(path: SocketTarget, opts: QmpConnectOptions): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? DEADLINES.connect;
    const transcript = new Transcript(`${opts.vm}.qmp`, opts.transcriptFile);
    const socket = await JsonConnection.open(path, opts.vm, transcript, timeoutMs);
    const conn = new JsonConnection(opts.vm, socket, transcript, DEADLINES.command);
    const budget = scale(timeoutMs);
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new DeadlineError(`${opts.vm}: QMP greeting`, budget, 'nothing received')),
        budget,
      );
      conn.onUnsolicited = (msg) => {
        if (msg.QMP) {
          clearTimeout(t);
          resolve(msg.QMP as QmpGreeting);
        }
      };
    });
    const oob = greeting.capabilities.includes('oob');
    const client = new QmpClient(conn, greeting, oob);
    await client.execute('qmp_capabilities', oob ? { enable: ['oob'] } : undefined);
    return client;
  }

  get vm(): string {
    return this.conn.vm;
  }

  get version(): QemuVersion {
    return this.greeting.version.qemu;
  }

  get transcript(): Transcript {
    return this.conn.transcript;
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts?: CommandOptions): Promise<T> {
    const id = this.conn.nextId('mt');
    const msg: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) msg.arguments = args;
    return this.conn.request<T>(msg, id, command, opts);
  }

  /**
   * Out-of-band: runs even while the main loop is blocked (a destination waiting on a
   * missing postcopy page). Falls back to in-band where the monitor offers no OOB.
   */
  executeOob<T = unknown>(command: string, args?: Record<string, unknown>, opts?: CommandOptions): Promise<T> {
    if (!this.oob) return this.execute<T>(command, args, opts);
    const id = this.conn.nextId('oob');
    const msg: Record<string, unknown> = { 'exec-oob': command, id };
    if (args !== undefined) msg.arguments = args;
    return this.conn.request<T>(msg, id, command, opts);
  }

  hmp(commandLine: string, opts?: CommandOptions): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, opts);
  }

  /** Index to pass as `since` so an event that races the trigger is not missed. */
  mark(): number {
    return this.events.length;
  }

  /** Waits for an event from index `since` (default: from now; see mark()), with a deadline. */
  async waitForEvent(name: string, predicate: (e: QmpEvent) => boolean = () => true, opts: Wait = {}): Promise<QmpEvent> {
    const timeoutMs = scale(deadline(opts, 'event'));
    const end = Date.now() + timeoutMs;
    let i = opts.since ?? this.events.length;
    for (;;) {
      for (; i < this.events.length; i++) {
        const e = this.events[i]!;
        if (e.event === name && predicate(e)) return e;
      }
      const left = end - Date.now();
      const last = this.events.at(-1);
      if (left <= 0 || this.closed)
        throw new DeadlineError(
          `${this.vm}: event ${name}${this.closed ? ' (monitor closed)' : ''}`,
          timeoutMs,
          last ? { event: last.event, data: last.data } : undefined,
        );
      await new Promise<void>((resolve) => {
        const w = () => {
          clearTimeout(t);
          this.waiters.delete(w);
          resolve();
        };
        const t = setTimeout(w, left);
        this.waiters.add(w);
      });
    }
  }

  /** Events as an async iterator, starting at `since` (default: now). Ends when the monitor closes. */
  async *iterateEvents(since = this.events.length): AsyncGenerator<QmpEvent> {
    let i = since;
    for (;;) {
      while (i < this.events.length) yield this.events[i++]!;
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        const w = () => {
          this.waiters.delete(w);
          resolve();
        };
        this.waiters.add(w);
      });
    }
  }

  async close(): Promise<void> {
    this.conn.close();
    await this.conn.transcript.close();
  }
}

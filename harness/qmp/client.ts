import { DeadlineError } from '../util/errors.js';
import { DEADLINES, deadline, scale, type Wait } from '../util/deadlines.js';
import { JsonConnection, linkGeneration, linkOf, lostWithLink, type CommandOptions, type SocketTarget } from './connection.js';
import { QmpDisconnectedError } from './errors.js';
import { progress } from '../util/log.js';
import { Transcript } from './transcript.js';
import type { QmpEvent, QmpGreeting, QemuVersion } from './types.js';

/** An event wait: the one wait shape, plus how to notice an event missed across a reopened monitor and when to give up early. */
export interface EventWait extends Wait {
  missed?: () => Promise<boolean>;
  stop?: () => Error | undefined;
}

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
  /** Event counts at which the monitor was reopened after its host's control link was lost. */
  readonly gaps: number[] = [];
  private reopening: Promise<void> | undefined;

  private constructor(
    private conn: JsonConnection,
    readonly greeting: QmpGreeting,
    readonly oob: boolean,
    private readonly target: SocketTarget,
    private gen: number,
  ) {
    this.attach(conn);
  }

  private attach(conn: JsonConnection): void {
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

  /** A connection and QEMU's greeting. */
  private static async open(path: SocketTarget, vm: string, transcript: Transcript, timeoutMs: number): Promise<{ conn: JsonConnection; greeting: QmpGreeting }> {
    const socket = await JsonConnection.open(path, vm, transcript, timeoutMs);
    const conn = new JsonConnection(vm, socket, transcript, DEADLINES.command);
    const budget = scale(timeoutMs);
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const t = setTimeout(() => reject(new DeadlineError(`${vm}: QMP greeting`, budget, 'nothing received')), budget);
      conn.onUnsolicited = (msg) => {
        if (msg.QMP) {
          clearTimeout(t);
          resolve(msg.QMP as QmpGreeting);
        }
      };
    });
    return { conn, greeting };
  }

  static async connect(path: SocketTarget, opts: QmpConnectOptions): Promise<QmpClient> {
    const transcript = new Transcript(`${opts.vm}.qmp`, opts.transcriptFile);
    const gen = linkGeneration(path);
    const { conn, greeting } = await QmpClient.open(path, opts.vm, transcript, opts.timeoutMs ?? DEADLINES.connect);
    const oob = greeting.capabilities.includes('oob');
    await QmpClient.negotiate(conn, oob);
    return new QmpClient(conn, greeting, oob, path, gen);
  }

  /** Leaves capabilities negotiation, with OOB where the monitor offers it. */
  private static negotiate(conn: JsonConnection, oob: boolean): Promise<unknown> {
    const id = conn.nextId('mt');
    return conn.request({ execute: 'qmp_capabilities', id, ...(oob ? { arguments: { enable: ['oob'] } } : {}) }, id, 'qmp_capabilities');
  }

  /** Whether the connection died with its host's control link (and can be opened again). */
  private get lostWithLink(): boolean {
    return this.conn.closed && lostWithLink(this.target, this.gen);
  }

  /**
   * Opens the monitor again once the control link to its host is back. QEMU ran on; the
   * events it sent meanwhile were lost, which gaps records for the waits that need to know.
   */
  private reopen(): Promise<void> {
    this.reopening ??= (async () => {
      const link = linkOf(this.target);
      this.transcript.record('!!', 'the control link to this host was lost: reopening the monitor once it is back');
      await link!.restore();
      this.gen = link!.generation();
      // The old client may hold QEMU's monitor until the host's sshd drops its session.
      const { conn } = await QmpClient.open(this.target, this.vm, this.transcript, 30_000);
      this.conn = conn;
      this.attach(conn);
      await QmpClient.negotiate(conn, this.oob);
      this.gaps.push(this.events.length);
      this.transcript.record('!!', 'monitor reopened; events sent while it was closed were not seen');
      progress(`${this.vm}: QMP reopened after the control link came back`);
      for (const w of this.waiters) w();
    })().finally(() => (this.reopening = undefined));
    return this.reopening;
  }

  /** Whether events from index `since` on may be missing (the monitor was reopened since). */
  missedSince(since: number): boolean {
    return this.gaps.some((g) => g >= since);
  }

  /** A request; over a link that was lost, after the monitor is reopened (a query lost in flight is asked again). */
  private async request<T>(msg: Record<string, unknown>, id: string, command: string, opts?: CommandOptions): Promise<T> {
    if (this.lostWithLink) await this.reopen();
    try {
      return await this.conn.request<T>(msg, id, command, opts);
    } catch (e) {
      if (!(e instanceof QmpDisconnectedError) || !command.startsWith('query-') || !this.lostWithLink) throw e;
      await this.reopen();
      return this.conn.request<T>(msg, id, command, opts);
    }
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

  /** QEMU closed its monitor (it exited); not a monitor lost with its host's control link. */
  get closed(): boolean {
    return this.conn.closed && !lostWithLink(this.target, this.gen);
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts?: CommandOptions): Promise<T> {
    const id = this.conn.nextId('mt');
    const msg: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) msg.arguments = args;
    return this.request<T>(msg, id, command, opts);
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
    return this.request<T>(msg, id, command, opts);
  }

  hmp(commandLine: string, opts?: CommandOptions): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, opts);
  }

  /** Index to pass as `since` so an event that races the trigger is not missed. */
  mark(): number {
    return this.events.length;
  }

  /**
   * Waits for an event from index `since` (default: from now; see mark()), with a deadline.
   * Across a reopened monitor the event may have come while it was closed: `missed` then
   * asks QEMU for the state the event would have announced (polled), and a yes ends the wait.
   * `stop` is asked on every event and every 100 ms: an error it returns ends the wait at
   * once (the other side of a migration failed: what is awaited here can never come).
   */
  async waitForEvent(name: string, predicate: (e: QmpEvent) => boolean = () => true, opts: EventWait = {}): Promise<QmpEvent> {
    const timeoutMs = scale(deadline(opts, 'event'));
    const end = Date.now() + timeoutMs;
    const since = opts.since ?? this.events.length;
    let i = since;
    for (;;) {
      for (; i < this.events.length; i++) {
        const e = this.events[i]!;
        if (e.event === name && predicate(e)) return e;
      }
      const stopped = opts.stop?.();
      if (stopped) throw stopped;
      if (this.lostWithLink) await this.reopen();
      const gap = this.missedSince(since) && !!opts.missed;
      if (gap && (await opts.missed!())) return { event: name, data: { missed: true }, timestamp: { seconds: 0, microseconds: 0 }, receivedAt: Date.now() } as QmpEvent;
      const left = Math.min(end - Date.now(), gap ? 500 : Infinity, opts.stop ? 100 : Infinity);
      const last = this.events.at(-1);
      if (end - Date.now() <= 0 || this.closed)
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

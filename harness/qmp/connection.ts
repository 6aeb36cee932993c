import { connect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineError } from '../util/errors.js';
import { DEADLINES, scale } from '../util/deadlines.js';
import { JsonLineDecoder, encodeMessage } from './framing.js';
import { QmpCommandError, QmpDisconnectedError } from './errors.js';
import { Transcript } from './transcript.js';
import type { LinkState } from '../host/host.js';

interface Pending {
  command: string;
  args: unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface CommandOptions {
  /** Unscaled; default DEADLINES.command. */
  timeoutMs?: number;
}

/** A unix socket: a path on this machine, or one reached through another host (host/ssh.ts). */
export type SocketTarget = string | { path: string; open: () => Promise<Duplex>; link?: LinkState };

/**
 * Whether a stream opened at link generation `gen` died with the control link and is to be
 * opened again (after LinkState.restore()). A socket on this machine never is.
 */
export function lostWithLink(target: SocketTarget, gen: number): boolean {
  const link = linkOf(target);
  return !!link && (link.down() || link.generation() !== gen);
}

/** The control link a socket is reached through, if any. */
export const linkOf = (target: SocketTarget): LinkState | undefined => (typeof target === 'string' ? undefined : target.link);

export const linkGeneration = (target: SocketTarget): number => linkOf(target)?.generation() ?? 0;

/**
 * One JSON line protocol connection with ids on every command and replies matched by id.
 * Shared by the QMP client and the guest-agent client.
 */
export class JsonConnection {
  private readonly decoder = new JsonLineDecoder();
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private closedError: Error | undefined;
  /** Messages without an id (QMP greeting, events) go here. */
  onUnsolicited: (msg: Record<string, unknown>) => void = () => {};
  onClose: (err: Error) => void = () => {};

  constructor(
    readonly vm: string,
    private readonly socket: Duplex,
    readonly transcript: Transcript,
    readonly defaultTimeoutMs: number,
  ) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (e) => this.closeWith(e.message));
    socket.on('close', () => this.closeWith('socket closed'));
  }

  /** Ends the connection once: every request still waiting fails with `error` (default: closed, saying why). */
  private closeWith(why: string, error?: Error): void {
    if (this.closedError) return;
    this.closedError = error ?? new QmpDisconnectedError(`${this.vm}: ${this.transcript.label} connection closed (${why})`);
    this.transcript.record('!!', `closed: ${why}`);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.closedError);
    }
    this.pending.clear();
    this.onClose(this.closedError);
  }

  /**
   * Connects to a unix socket; timeoutMs unscaled. QEMU creates the socket file (bind) a
   * moment before it listens: a refused or missing socket is retried until the deadline.
   */
  static async open(target: SocketTarget, vm: string, transcript: Transcript, timeoutMs: number = DEADLINES.connect): Promise<Duplex> {
    const budget = scale(timeoutMs);
    const end = Date.now() + budget;
    const path = typeof target === 'string' ? target : target.path;
    for (;;) {
      const r = typeof target === 'string' ? await JsonConnection.tryOpen(target, Math.max(1, end - Date.now())) : await JsonConnection.tryRemote(target);
      if (!(r instanceof Error)) return r;
      const retryable = r.code === 'ECONNREFUSED' || r.code === 'ENOENT';
      if (!retryable || Date.now() >= end) {
        transcript.record('!!', `connect to ${path} failed: ${r.message}`);
        if (retryable || r.code === 'ETIMEDOUT') throw new DeadlineError(`${vm}: connect to ${path}`, budget, r.message);
        throw r;
      }
      await sleep(20);
    }
  }

  /** Through another host's connection (ssh streamlocal): its refusals are plain errors, retried alike. */
  private static async tryRemote(target: Exclude<SocketTarget, string>): Promise<Duplex | NodeJS.ErrnoException> {
    try {
      return await target.open();
    } catch (e) {
      return Object.assign(e as Error, { code: 'ENOENT' });
    }
  }

  private static tryOpen(path: string, ms: number): Promise<Socket | NodeJS.ErrnoException> {
    return new Promise((resolve) => {
      const s = connect(path);
      const t = setTimeout(() => {
        s.destroy();
        resolve(Object.assign(new Error('no connection'), { code: 'ETIMEDOUT' }));
      }, ms);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(t);
        s.destroy();
        resolve(e);
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  nextId(prefix: string): string {
    return `${prefix}-${++this.seq}`;
  }

  /** Sends a message whose reply carries the given id, resolves with `return` or rejects with QEMU's error. */
  request<T>(msg: Record<string, unknown>, id: string, command: string, opts: CommandOptions = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const budget = scale(opts.timeoutMs ?? this.defaultTimeoutMs);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DeadlineError(`${this.vm}: reply to ${command} (id ${id})`, budget, 'no reply'));
      }, budget);
      this.pending.set(id, { command, args: msg.arguments, resolve: resolve as (v: unknown) => void, reject, timer });
      this.send(msg);
    });
  }

  send(msg: Record<string, unknown>): void {
    const line = encodeMessage(msg);
    this.transcript.record('->', line.trimEnd());
    this.socket.write(line);
  }

  /** Closes it; with `reason`, the requests still waiting fail with that at once. */
  close(reason?: Error): void {
    if (reason) this.closeWith(reason.message, reason);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const msg of this.decoder.push(chunk)) {
      this.transcript.record('<-', JSON.stringify(msg));
      const id = msg.id === undefined ? undefined : String(msg.id);
      const p = id === undefined ? undefined : this.pending.get(id);
      if (!p) {
        this.onUnsolicited(msg);
        continue;
      }
      this.pending.delete(id!);
      clearTimeout(p.timer);
      const err = msg.error as { class?: string; desc?: string } | undefined;
      if (err) p.reject(new QmpCommandError(this.vm, p.command, err.class ?? 'GenericError', err.desc ?? '', p.args));
      else p.resolve(msg.return);
    }
  }
}


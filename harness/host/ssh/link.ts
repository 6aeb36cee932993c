import type { Client } from 'ssh2';
import { DEADLINES, deadline, scale, type Wait } from '../../util/deadlines.js';
import { progress } from '../../util/log.js';
import { sleep } from '../../util/time.js';
import type { LinkState } from '../host.js';
import { ControlLinkError, open, type SshTarget } from './target.js';

/** One loss of the control link and when it came back. */
export interface Outage {
  why: string;
  lostAt: number;
  backAt?: number;
}

/**
 * The ssh connection to one host and its health: keepalives notice a silent partition, every
 * pending and later operation then waits (reconnecting, up to the target's relinkMs) or fails
 * with ControlLinkError. What runs on the host runs on meanwhile.
 */
export class ControlLink implements LinkState {
  private lost: Error | undefined;
  private lostAt: number | undefined;
  private relinking: Promise<void> | undefined;
  private closedByUs = false;
  /** Connections made so far after the first: a stream opened before a reconnect is a dead one. */
  private gen = 0;
  readonly outages: Outage[] = [];
  /** Called after each reconnect (a host drops what belonged to the old connection). */
  onReconnect: () => void = () => undefined;

  private constructor(
    private readonly target: SshTarget,
    private current: Client,
  ) {
    this.watch(current);
  }

  static async open(target: SshTarget, opts: Wait = {}): Promise<ControlLink> {
    return new ControlLink(target, await open(target, deadline(opts, 'connect')));
  }

  /** The connection; after a loss, restored first (within relinkMs). */
  async client(): Promise<Client> {
    if (this.lost) await this.restore();
    return this.current;
  }

  /** Why the link is down, if it is. */
  get lostError(): Error | undefined {
    return this.lost;
  }

  generation(): number {
    return this.gen;
  }

  down(): boolean {
    return !!this.lost;
  }

  /** A new connection after the link was lost (remote processes ran on). */
  async reconnect(opts: Wait = {}): Promise<void> {
    this.current.end();
    this.current = await open(this.target, deadline(opts, 'connect'));
    this.lost = undefined;
    this.gen++;
    this.onReconnect();
    const o = this.outages.at(-1);
    if (o && o.backAt === undefined) {
      o.backAt = Date.now();
      progress(`host ${this.target.name}: control link back after ${o.backAt - o.lostAt} ms`);
    }
    this.watch(this.current);
  }

  /**
   * Waits for a lost link to come back, reconnecting, for up to relinkMs. Concurrent callers
   * share one attempt; fails with ControlLinkError naming the loss and the wait.
   */
  async restore(): Promise<void> {
    if (!this.lost) return;
    const lost = this.lost;
    const ms = this.closedByUs ? 0 : (this.target.relinkMs ?? DEADLINES.relink);
    if (ms <= 0) throw lost;
    this.relinking ??= (async () => {
      const end = Date.now() + scale(ms);
      for (;;) {
        try {
          return await this.reconnect({ timeoutMs: DEADLINES.relinkAttempt });
        } catch (e) {
          if (this.closedByUs || Date.now() >= end)
            throw new ControlLinkError(`${lost.message}; not back within ${ms} ms (last attempt: ${(e as Error).message})`, { host: this.target.name, lostAt: this.lostAt });
          await sleep(500);
        }
      }
    })().finally(() => (this.relinking = undefined));
    await this.relinking;
  }

  close(): void {
    this.closedByUs = true;
    this.current.end();
  }

  private watch(c: Client): void {
    const down = (why: string) => {
      if (c !== this.current || this.lost) return;
      this.lost = new ControlLinkError(`control link to host ${this.target.name} (${this.target.address}) lost: ${why}`, { host: this.target.name });
      this.lostAt = Date.now();
      if (!this.closedByUs) {
        this.outages.push({ why, lostAt: this.lostAt });
        progress(`host ${this.target.name}: control link lost (${why}); what runs there runs on`);
      }
    };
    c.on('error', (e: Error) => down(e.message));
    c.on('close', () => down('connection closed'));
  }
}

import { deadline, scale, type Wait } from '../util/deadlines.js';
import { DeadlineError } from '../util/errors.js';
import { pollUntil } from '../util/time.js';

/** One sign of life from the guest, as the host received it. */
export interface Beat {
  /** The heartbeat's own counter; for the agent's pulse, the host's count of answered polls. */
  n: number;
  /** Guest clocks, seconds: CLOCK_MONOTONIC and CLOCK_REALTIME from the heartbeat; /proc/uptime (and NaN) from the agent. */
  guestMono: number;
  guestReal: number;
  /** Host time (ms, Date.now) of arrival. */
  hostMs: number;
  /** Which QEMU delivered it ("src", "dst"). */
  vm: string;
}

/**
 * Where a guest's signs of life come from. `heartbeat`: the guest's own line every ~15 ms on
 * org.migtest.heartbeat (a counter that must continue across the migration). `agent`: the
 * host asks qemu-guest-agent for /proc/uptime every ~50 ms (a guest without the heartbeat):
 * coarser, and continuity is the boot id and the uptime, not a counter.
 */
export type PulseKind = 'heartbeat' | 'agent';

/** The beats of one VM and the waits on them; what the liveness checks read. */
export abstract class BeatLog {
  abstract readonly kind: PulseKind;
  /** About how often a beat comes while the guest runs, ms (a wait counted in beats uses it). */
  abstract readonly periodMs: number;
  readonly beats: Beat[] = [];
  /**
   * The guest's boot id where it said it booted: the heartbeat's READY line; for the agent's
   * pulse, a boot id other than the one its polling began with (the guest booted again).
   */
  readyBoot: string | undefined;
  readyAt: number | undefined;
  /** Times the stream was opened again after its host's control link came back. */
  reopens = 0;
  protected closed = false;

  constructor(readonly vm: string) {}

  get last(): Beat | undefined {
    return this.beats.at(-1);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Waits until `count` beats arrived after beat index `since` (default: from now). Ends at
   * once when no more can come (the port closed: its QEMU exited, or the log was closed).
   */
  waitForBeats(count: number, opts: Wait = {}): Promise<Beat> {
    const since = opts.since ?? this.beats.length;
    const awaited = `${count} ${this.kind === 'agent' ? "answers to the agent's polls" : 'heartbeats'} from ${this.vm}`;
    const timeoutMs = deadline(opts, 'beats');
    const started = Date.now();
    return pollUntil(awaited, timeoutMs, () => {
      const state = { received: this.beats.length - since, last: this.last, closed: this.closed };
      const done = this.beats.length - since >= count;
      if (!done && this.closed) throw new BeatsEndedError(awaited, Date.now() - started, scale(timeoutMs), state);
      return { done, value: this.beats.at(-1), state };
    }, 20);
  }

  /** Waits until no beat has arrived for `quietMs`: the guest is blocked (a postcopy page it cannot get). */
  waitForSilence(quietMs: number, opts: Wait = {}): Promise<Beat | undefined> {
    return pollUntil(
      `${this.vm}: the ${this.kind} to stop for ${quietMs} ms`,
      deadline(opts, 'beats'),
      () => {
        const quiet = Date.now() - (this.last?.hostMs ?? 0);
        return { done: quiet >= quietMs, value: this.last, state: { quietForMs: quiet, last: this.last } };
      },
      20,
    );
  }

  abstract close(): void;
}

/**
 * The beats a wait wanted cannot come any more: the port closed. A DeadlineError, because its
 * deadline would only have said the same later; the message says it ended early, and why.
 */
export class BeatsEndedError extends DeadlineError {
  constructor(awaited: string, waitedMs: number, timeoutMs: number, lastState: unknown) {
    super(awaited, timeoutMs, lastState);
    this.message = `stopped waiting for ${awaited} after ${(waitedMs / 1000).toFixed(1)}s of ${(timeoutMs / 1000).toFixed(1)}s: the port they come on closed (its QEMU exited or the log was closed); last state: ${JSON.stringify(lastState)}`;
  }
}

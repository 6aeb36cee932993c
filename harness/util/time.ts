import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineError } from './errors.js';

export { sleep };

/**
 * Multiplier for every deadline. TCG on 2 shared cores is slow; CI or a laptop can
 * stretch all waits at once with MIGTEST_TIME_SCALE instead of editing tests.
 */
export function timeScale(): number {
  const v = Number(process.env.MIGTEST_TIME_SCALE ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
}

export function scaled(ms: number): number {
  return Math.round(ms * timeScale());
}

export interface PollResult<T> {
  done: boolean;
  value?: T;
  /** What the poll saw this round; reported if the deadline passes. */
  state?: unknown;
}

/** Polls until done or the deadline; a DeadlineError carries the last state seen. */
export async function pollUntil<T>(
  awaited: string,
  timeoutMs: number,
  poll: () => Promise<PollResult<T>> | PollResult<T>,
  intervalMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const r = await poll();
    last = r.state;
    if (r.done) return r.value as T;
    if (Date.now() >= end) throw new DeadlineError(awaited, timeoutMs, last);
    await sleep(intervalMs);
  }
}

/** Races a promise against a deadline. */
export async function withDeadline<T>(
  awaited: string,
  timeoutMs: number,
  p: Promise<T>,
  lastState?: () => unknown,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(awaited, timeoutMs, lastState?.())), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function isoNow(): string {
  return new Date().toISOString();
}

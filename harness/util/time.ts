import { setTimeout as sleep } from 'node:timers/promises';
import { scale } from './deadlines.js';
import { DeadlineError } from './errors.js';

export { sleep };

export interface PollResult<T> {
  done: boolean;
  value?: T;
  /** What the poll saw this round; reported if the deadline passes. */
  state?: unknown;
}

/**
 * Polls until done or the deadline (unscaled: scaled here); a DeadlineError carries what
 * was awaited, the time really waited and the last state seen.
 */
export async function pollUntil<T>(
  awaited: string,
  timeoutMs: number,
  poll: () => Promise<PollResult<T>> | PollResult<T>,
  intervalMs = 50,
): Promise<T> {
  const budget = scale(timeoutMs);
  const end = Date.now() + budget;
  let last: unknown;
  for (;;) {
    const r = await poll();
    last = r.state;
    if (r.done) return r.value as T;
    if (Date.now() >= end) throw new DeadlineError(awaited, budget, last);
    await sleep(intervalMs);
  }
}

/** Races a promise against a deadline (unscaled: scaled here). */
export async function withDeadline<T>(
  awaited: string,
  timeoutMs: number,
  p: Promise<T>,
  lastState?: () => unknown,
): Promise<T> {
  const budget = scale(timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(awaited, budget, lastState?.())), budget);
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

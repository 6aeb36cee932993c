/**
 * Where a scenario's wall time went: starting VMs ('boot'), QEMU migrating ('migrating': a
 * migration, a save to or load from a file, a snapshot job), or the harness (everything
 * else: waits on the guest, checks, teardown). The scope of a scenario owns one PhaseClock;
 * VM starts and migrations record their intervals on it, and the row reads its split.
 */
export type PhaseKind = 'boot' | 'migrating';

/** A scenario's wall split three ways; the three add up to the wall. */
export interface PhaseSplit {
  bootMs: number;
  migratingMs: number;
  harnessMs: number;
}

/** One interval of a clock: open (`to` undefined) until end() is called. */
export class PhaseSpan {
  to: number | undefined;

  constructor(
    readonly kind: PhaseKind,
    readonly from: number,
  ) {}

  /** Ends it at `at` (default now); a later end() only moves the end later. */
  end(at = Date.now()): void {
    this.to = Math.max(this.to ?? at, at);
  }
}

/** Length of the union of [from, to) intervals, each clipped to [start, end]. Pure. */
export function unionMs(intervals: ReadonlyArray<readonly [number, number]>, start = -Infinity, end = Infinity): number {
  const clipped = intervals.map(([a, b]) => [Math.max(a, start), Math.min(b, end)] as const).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let cur: [number, number] | undefined;
  for (const [a, b] of clipped) {
    if (cur && a <= cur[1]) cur[1] = Math.max(cur[1], b);
    else {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    }
  }
  return cur ? total + cur[1] - cur[0] : total;
}

/**
 * The split of the wall [start, end] given its intervals (an open one runs to `end`). Overlaps
 * count once: bootMs is the union of the boot intervals, migratingMs what the migrating ones
 * add beyond it (a migration while a VM starts counts as boot), harnessMs the rest. Pure.
 */
export function splitPhases(spans: ReadonlyArray<{ kind: PhaseKind; from: number; to?: number }>, start: number, end: number): PhaseSplit {
  const all = spans.map((s) => [s.from, s.to ?? end] as const);
  const boot = spans.filter((s) => s.kind === 'boot').map((s) => [s.from, s.to ?? end] as const);
  const bootMs = unionMs(boot, start, end);
  const busyMs = unionMs(all, start, end);
  return { bootMs, migratingMs: busyMs - bootMs, harnessMs: Math.max(0, end - start - busyMs) };
}

/** A scenario's intervals of VM starts and migrations. */
export class PhaseClock {
  private readonly spans: PhaseSpan[] = [];

  /** Opens an interval at `at` (default now); end() it when that phase is over. */
  begin(kind: PhaseKind, at = Date.now()): PhaseSpan {
    const s = new PhaseSpan(kind, at);
    this.spans.push(s);
    return s;
  }

  /** A closed interval. */
  add(kind: PhaseKind, from: number, to: number): void {
    this.begin(kind, from).end(to);
  }

  /** Runs `fn` inside an interval of `kind`, ended however `fn` ends. */
  async time<T>(kind: PhaseKind, fn: () => Promise<T>): Promise<T> {
    const s = this.begin(kind);
    try {
      return await fn();
    } finally {
      s.end();
    }
  }

  /** The wall [start, end] split by what was recorded (intervals still open run to `end`). */
  split(start: number, end: number): PhaseSplit {
    return splitPhases(this.spans, start, end);
  }
}

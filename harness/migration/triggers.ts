import type { MigrationStatus } from '../qmp/types.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import { pollUntil } from '../util/time.js';
import type { RunningMigration } from './migrate.js';
import { TERMINAL, type MigrationSample } from './stats.js';

/** The migration ended before the trigger's state came: the fault would have hit nothing. */
export class TriggerMissedError extends MigtestError {}

/**
 * When a fault fires: a state of the migration, never a sleep. Small strategy objects in
 * the manner of testcontainers' wait strategies; `wait` resolves with the sample that matched.
 */
export interface Trigger {
  readonly description: string;
  wait(m: RunningMigration, opts?: Wait): Promise<MigrationSample>;
}

/** Polls the migration's samples until `pred` holds; a terminal state first is a miss. */
abstract class SampleTrigger implements Trigger {
  abstract readonly description: string;
  protected abstract matches(s: MigrationSample, series: readonly MigrationSample[]): boolean;

  /** Looks at samples taken from now on (or from sample index `since`). */
  async wait(m: RunningMigration, opts: Wait = {}): Promise<MigrationSample> {
    const from = opts.since ?? m.sampler.samples.length;
    const s = await pollUntil(`${m.src.name}: ${this.description}`, deadline(opts, 'trigger'), () => {
      const series = m.sampler.samples;
      const last = series.at(-1);
      const done = !!last && series.length > from && (this.matches(last, series) || TERMINAL.has(last.status));
      return { done, value: last, state: last };
    }, 50);
    if (TERMINAL.has(s.status) && !this.matches(s, m.sampler.samples))
      throw new TriggerMissedError(`${m.src.name}: migration ended '${s.status}' before ${this.description}`, { sample: s });
    return s;
  }
}

class StatusTrigger extends SampleTrigger {
  readonly description: string;
  constructor(private readonly statuses: MigrationStatus[]) {
    super();
    this.description = `status ${statuses.join(' or ')}`;
  }
  protected matches(s: MigrationSample): boolean {
    return this.statuses.includes(s.status);
  }
}

/** In `status`, with `fraction` of what remained when the status began already sent. */
class ProgressTrigger extends SampleTrigger {
  readonly description: string;
  constructor(
    private readonly status: MigrationStatus,
    private readonly fraction: number,
  ) {
    super();
    if (!(fraction >= 0 && fraction < 1)) throw new MigtestError(`progress fraction ${fraction}: must be in [0, 1)`);
    this.description = `${status} and ${Math.round(fraction * 100)}% transferred`;
  }
  protected matches(s: MigrationSample, series: readonly MigrationSample[]): boolean {
    if (s.status !== this.status) return false;
    const first = series.find((x) => x.status === this.status && x.remaining !== undefined);
    if (!first?.remaining || s.remaining === undefined) return false;
    return 1 - s.remaining / first.remaining >= this.fraction;
  }
}

/** The first pass is done when dirty-sync-count reaches 2 (qtest's wait_for_migration_pass). */
class PassTrigger extends SampleTrigger {
  readonly description: string;
  constructor(private readonly passes: number) {
    super();
    this.description = `${passes} pass(es) over RAM done`;
  }
  protected matches(s: MigrationSample): boolean {
    return (s.dirtySyncCount ?? 0) > this.passes && !TERMINAL.has(s.status);
  }
}

/** Nothing transferred for `ms` while in `status`: the link hangs (a stall or a partition). */
class StalledTrigger extends SampleTrigger {
  readonly description: string;
  constructor(
    private readonly status: MigrationStatus,
    private readonly ms: number,
  ) {
    super();
    this.description = `no bytes transferred for ${ms} ms in ${status}`;
  }
  protected matches(s: MigrationSample, series: readonly MigrationSample[]): boolean {
    if (s.status !== this.status || s.transferred === undefined) return false;
    // Walk back over the samples that show the same figure: how long has it not moved?
    let i = series.length - 1;
    while (i > 0 && series[i - 1]!.status === s.status && series[i - 1]!.transferred === s.transferred) i--;
    return s.t - series[i]!.t >= this.ms;
  }
}

/** Any condition on the latest sample (four dirty syncs while still active, say). */
class SampleMatchTrigger extends SampleTrigger {
  constructor(
    readonly description: string,
    private readonly pred: (s: MigrationSample) => boolean,
  ) {
    super();
  }
  protected matches(s: MigrationSample): boolean {
    return this.pred(s);
  }
}

export const when = {
  status: (...statuses: MigrationStatus[]): Trigger => new StatusTrigger(statuses),
  progress: (status: MigrationStatus, fraction: number): Trigger => new ProgressTrigger(status, fraction),
  passes: (n: number): Trigger => new PassTrigger(n),
  stalled: (status: MigrationStatus, ms: number): Trigger => new StalledTrigger(status, ms),
  sample: (description: string, pred: (s: MigrationSample) => boolean): Trigger => new SampleMatchTrigger(description, pred),
};

export interface FaultRecord {
  fault: string;
  trigger: string;
  at: number;
  sample: MigrationSample;
}

/** Waits for the trigger, fires the fault, and logs both (faults.jsonl in the artifacts). */
export async function injectAt<T>(
  m: RunningMigration,
  trigger: Trigger,
  fault: string,
  fire: () => Promise<T> | T,
  opts: Wait = {},
): Promise<{ value: T; record: FaultRecord }> {
  const sample = await trigger.wait(m, opts);
  const record: FaultRecord = { fault, trigger: trigger.description, at: Date.now(), sample };
  const value = await fire();
  m.src.artifacts.append('faults.jsonl', JSON.stringify(record));
  return { value, record };
}

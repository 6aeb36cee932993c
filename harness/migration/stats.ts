import type { MigrationInfo, MigrationStatus } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';

/** One query-migrate sample of the source, for the time series. */
export interface MigrationSample {
  t: number;
  status: MigrationStatus;
  transferred?: number;
  remaining?: number;
  mbps?: number;
  dirtySyncCount?: number;
  expectedDowntime?: number;
  dirtyPagesRate?: number;
  cpuThrottle?: number;
}

export function sampleOf(info: MigrationInfo, t: number): MigrationSample {
  return {
    t,
    status: info.status ?? 'none',
    transferred: info.ram?.transferred,
    remaining: info.ram?.remaining,
    mbps: info.ram?.mbps,
    dirtySyncCount: info.ram?.['dirty-sync-count'],
    expectedDowntime: info['expected-downtime'],
    dirtyPagesRate: info.ram?.['dirty-pages-rate'],
    cpuThrottle: info['cpu-throttle-percentage'],
  };
}

export const TERMINAL: ReadonlySet<MigrationStatus> = new Set<MigrationStatus>(['completed', 'failed', 'cancelled']);

/** Samples query-migrate on an interval until a terminal state or stop(). */
export class MigrationSampler {
  readonly samples: MigrationSample[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  /** Ends the pause between two samples early: stop() does not wait out an interval. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly vm: StartedVm,
    private readonly intervalMs = 100,
  ) {
    this.loop = this.run();
  }

  get last(): MigrationSample | undefined {
    return this.samples.at(-1);
  }

  /** Settles when sampling ends: a terminal state seen, the monitor gone or failing, or stop(). */
  get ended(): Promise<void> {
    return this.loop;
  }

  private async run(): Promise<void> {
    while (this.running && !this.vm.qmp.closed) {
      try {
        const s = sampleOf(await this.vm.queryMigrate(), Date.now());
        this.samples.push(s);
        if (TERMINAL.has(s.status)) break;
      } catch {
        break;
      }
      if (!this.running) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.intervalMs);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = undefined;
    }
  }

  async stop(): Promise<MigrationSample[]> {
    this.running = false;
    this.wake?.();
    await this.loop;
    return this.samples;
  }
}

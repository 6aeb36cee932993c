import { DeadlineError } from '../util/errors.js';
import { pollUntil, scaled } from '../util/time.js';
import type { QmpEvent, MigrationInfo } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';
import { applySettings, type MigrationSettings } from './apply.js';
import { MigrationFailedError } from './errors.js';
import { MigrationSampler, TERMINAL, type MigrationSample } from './stats.js';
import { runWithPassedFd } from './fdpass.js';
import { incomingUri, isStreaming, outgoingUri, socketPair, type Transport } from './transport.js';

export interface MigrateHooks {
  /** Once the source reports active (qtest's "start" hook). */
  onActive?: (src: StartedVm, dst: StartedVm) => Promise<void>;
  /** With pause-before-switchover: the source waits in pre-switchover until this returns; then migrate-continue. */
  beforeSwitchover?: (src: StartedVm, dst: StartedVm) => Promise<void>;
}

export interface MigrateOptions extends MigrationSettings, MigrateHooks {
  transport?: Transport;
  timeoutMs?: number;
  sampleIntervalMs?: number;
  /** The status the migration must end in (default completed; a negative scenario says failed/cancelled). */
  expect?: 'completed' | 'failed' | 'cancelled';
}

export interface MigrationResult {
  status: string;
  uri: string;
  /** Source's final query-migrate. */
  info: MigrationInfo;
  series: MigrationSample[];
  startedAt: number;
  completedAt: number;
}

/** Destination side: settings (multifd-channels before migrate-incoming), then migrate-incoming. */
export async function startIncoming(dst: StartedVm, opts: MigrateOptions): Promise<void> {
  await applySettings(dst, opts);
  await dst.qmp.execute('migrate-incoming', { uri: incomingUri(dst, opts.transport ?? 'tcp') });
}

/** A migration under way: sampled, with waits on the source's MIGRATION events. */
export class RunningMigration {
  readonly sampler: MigrationSampler;
  readonly startedAt = Date.now();

  constructor(
    readonly src: StartedVm,
    readonly dst: StartedVm,
    readonly uri: string,
    readonly opts: MigrateOptions,
    private readonly srcMark: number,
    private readonly dstMark: number,
  ) {
    this.sampler = new MigrationSampler(src, opts.sampleIntervalMs ?? 100);
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs ?? scaled(180_000);
  }

  /** Waits for a MIGRATION status on the source; a timeout names the last sampled state. */
  waitStatus(want: (status: string) => boolean, what: string, timeoutMs = this.timeoutMs): Promise<QmpEvent> {
    return this.src.qmp
      .waitForEvent('MIGRATION', (e) => want(String(e.data?.status)), timeoutMs, this.srcMark)
      .catch((e) => {
        if (e instanceof DeadlineError) throw new DeadlineError(`${this.src.name}: migration ${what}`, timeoutMs, this.sampler.last ?? e.lastState);
        throw e;
      });
  }

  /** Waits for the end, checks it is the expected one, and (when completed) for the destination to run. */
  async finish(): Promise<MigrationResult> {
    const expect = this.opts.expect ?? 'completed';
    const transport = this.opts.transport ?? 'tcp';
    try {
      const end = await this.waitStatus((s) => TERMINAL.has(s), 'to finish');
      const status = String(end.data?.status);
      // QEMU (seen on 7.2 with multifd) may say completed before it has filled in the final
      // figures: query until total-time and the ram section are there.
      const info =
        status === 'completed'
          ? await pollUntil(`${this.src.name}: final migration figures`, scaled(10_000), async () => {
              const i = await this.src.queryMigrate();
              return { done: (i['total-time'] ?? 0) > 0 && i.ram !== undefined, value: i, state: i };
            }, 50)
          : await this.src.queryMigrate();
      if (status !== expect)
        throw new MigrationFailedError(`migration ended '${status}', expected '${expect}': ${info['error-desc'] ?? '(no error-desc)'}`, { info });
      if (status === 'completed') {
        if (!isStreaming(transport)) await this.dst.qmp.execute('migrate-incoming', { uri: incomingUri(this.dst, transport) });
        // The destination runs once it has loaded everything: RESUME.
        await this.dst.qmp.waitForEvent('RESUME', () => true, scaled(120_000), this.dstMark);
      }
      return { status, uri: this.uri, info, series: await this.sampler.stop(), startedAt: this.startedAt, completedAt: end.receivedAt };
    } finally {
      await this.sampler.stop();
    }
  }
}

/** Applies settings on both sides (read back), starts the destination listening, and sends `migrate`. */
export async function startMigration(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<RunningMigration> {
  const transport = opts.transport ?? 'tcp';
  const capabilities = opts.beforeSwitchover ? { ...opts.capabilities, 'pause-before-switchover': true } : opts.capabilities;
  const settings = { ...opts, capabilities };
  const dstMark = dst.qmp.mark();
  if (transport === 'fd') {
    // A connected socket pair; each end goes to its QEMU by name, over SCM_RIGHTS.
    const pair = await socketPair();
    try {
      await applySettings(dst, settings);
      await applySettings(src, settings);
      await runWithPassedFd(dst, pair.dstFd, 'migrate-incoming', { uri: 'fd:migfd' });
      pair.closeDst();
      const srcMark = src.qmp.mark();
      await runWithPassedFd(src, pair.srcFd, 'migrate', { uri: 'fd:migfd' });
      pair.closeSrc();
      return new RunningMigration(src, dst, 'fd:migfd', settings, srcMark, dstMark);
    } finally {
      pair.closeDst();
      pair.closeSrc();
    }
  }
  if (isStreaming(transport)) await startIncoming(dst, settings);
  else await applySettings(dst, settings);
  await applySettings(src, settings);
  const uri = await outgoingUri(dst, transport);
  const srcMark = src.qmp.mark();
  await src.qmp.execute('migrate', { uri });
  return new RunningMigration(src, dst, uri, settings, srcMark, dstMark);
}

/**
 * Migrates src to dst: settings applied and read back on both sides, hooks run at their
 * states, the source sampled until a terminal state, the destination awaited until it runs.
 */
export async function migrate(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const m = await startMigration(src, dst, opts);
  if (opts.onActive) {
    await m.waitStatus((s) => s === 'active' || TERMINAL.has(s), 'to become active');
    await opts.onActive(src, dst);
  }
  if (opts.beforeSwitchover) {
    const e = await m.waitStatus((s) => s === 'pre-switchover' || TERMINAL.has(s), 'to reach pre-switchover');
    if (e.data?.status === 'pre-switchover') {
      await opts.beforeSwitchover(src, dst);
      // The hook may have cancelled: continue only a migration still waiting.
      if ((await src.queryMigrate()).status === 'pre-switchover') await src.qmp.execute('migrate-continue', { state: 'pre-switchover' });
    }
  }
  return m.finish();
}

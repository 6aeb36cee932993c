import { DeadlineError } from '../util/errors.js';
import { scaled } from '../util/time.js';
import type { MigrationInfo } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';
import { applySettings, type MigrationSettings } from './apply.js';
import { MigrationFailedError } from './errors.js';
import { MigrationSampler, TERMINAL, type MigrationSample } from './stats.js';
import { incomingUri, isStreaming, outgoingUri, type Transport } from './transport.js';

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

/**
 * Migrates src to dst over the transport: settings applied and read back on both sides, the
 * source sampled until a terminal state (on the MIGRATION event, with a deadline naming the
 * last state), hooks run at their states, and the destination awaited until it runs.
 */
export async function migrate(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const transport = opts.transport ?? 'tcp';
  const timeoutMs = opts.timeoutMs ?? scaled(180_000);
  const expect = opts.expect ?? 'completed';
  const capabilities = opts.beforeSwitchover ? { ...opts.capabilities, 'pause-before-switchover': true } : opts.capabilities;
  const settings = { ...opts, capabilities };
  const dstMark = dst.qmp.mark();
  if (isStreaming(transport)) await startIncoming(dst, settings);
  else await applySettings(dst, settings);
  await applySettings(src, settings);
  const uri = await outgoingUri(dst, transport);
  const mark = src.qmp.mark();
  const startedAt = Date.now();
  await src.qmp.execute('migrate', { uri });
  const sampler = new MigrationSampler(src, opts.sampleIntervalMs ?? 100);
  const lastState = () => sampler.last;
  const waitStatus = (want: (s: string) => boolean, what: string) =>
    src.qmp.waitForEvent('MIGRATION', (e) => want(String(e.data?.status)), timeoutMs, mark).catch((e) => {
      if (e instanceof DeadlineError) throw new DeadlineError(`${src.name}: migration ${what}`, timeoutMs, lastState() ?? e.lastState);
      throw e;
    });
  try {
    if (opts.onActive) {
      await waitStatus((s) => s === 'active' || TERMINAL.has(s), 'to become active');
      await opts.onActive(src, dst);
    }
    if (opts.beforeSwitchover) {
      const e = await waitStatus((s) => s === 'pre-switchover' || TERMINAL.has(s), 'to reach pre-switchover');
      if (e.data?.status === 'pre-switchover') {
        await opts.beforeSwitchover(src, dst);
        await src.qmp.execute('migrate-continue', { state: 'pre-switchover' });
      }
    }
    const end = await waitStatus((s) => TERMINAL.has(s), 'to finish');
    const info = await src.queryMigrate();
    const status = String(end.data?.status);
    if (status !== expect)
      throw new MigrationFailedError(
        `migration ended '${status}', expected '${expect}': ${info['error-desc'] ?? '(no error-desc)'}`,
        { info },
      );
    if (status === 'completed') {
      if (!isStreaming(transport)) await dst.qmp.execute('migrate-incoming', { uri: incomingUri(dst, transport) });
      // The destination runs once it has loaded everything: RESUME.
      await dst.qmp.waitForEvent('RESUME', () => true, scaled(120_000), dstMark);
    }
    return { status, uri, info, series: await sampler.stop(), startedAt, completedAt: end.receivedAt };
  } finally {
    await sampler.stop();
  }
}

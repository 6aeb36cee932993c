import { DeadlineError } from '../util/errors.js';
import { scaled } from '../util/time.js';
import type { MigrationInfo } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';
import { MigrationFailedError } from './errors.js';
import { MigrationSampler, TERMINAL, type MigrationSample } from './stats.js';
import { listenUri, sourceUri, type Transport } from './transport.js';

export interface MigrateOptions {
  transport?: Transport;
  /** Capabilities by QEMU's names; `events` is always on. */
  capabilities?: Record<string, boolean>;
  /** Parameters by QEMU's names, set on both sides before migrate-incoming. */
  parameters?: Record<string, unknown>;
  timeoutMs?: number;
  sampleIntervalMs?: number;
  /** Hook once the source reports active, before switchover (qtest's "start" idea). */
  onActive?: (src: StartedVm, dst: StartedVm) => Promise<void>;
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

export async function setCapabilities(vm: StartedVm, caps: Record<string, boolean>): Promise<void> {
  const all = { events: true, ...caps };
  await vm.qmp.execute('migrate-set-capabilities', {
    capabilities: Object.entries(all).map(([capability, state]) => ({ capability, state })),
  });
}

export async function setParameters(vm: StartedVm, params: Record<string, unknown>): Promise<void> {
  if (Object.keys(params).length) await vm.qmp.execute('migrate-set-parameters', params);
}

/** Destination side: capabilities and parameters, then migrate-incoming; returns the URI for the source. */
export async function prepareIncoming(dst: StartedVm, opts: MigrateOptions): Promise<string> {
  const transport = opts.transport ?? 'tcp';
  await setCapabilities(dst, opts.capabilities ?? {});
  await setParameters(dst, opts.parameters ?? {});
  await dst.qmp.execute('migrate-incoming', { uri: listenUri(dst, transport) });
  return sourceUri(dst, transport);
}

/**
 * Precopy from src to dst: sets both sides, migrates, samples query-migrate until a terminal
 * state (on the MIGRATION event, with a deadline naming the last state), and waits for the
 * destination to run.
 */
export async function migrate(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const timeoutMs = opts.timeoutMs ?? scaled(180_000);
  const uri = await prepareIncoming(dst, opts);
  await setCapabilities(src, opts.capabilities ?? {});
  await setParameters(src, opts.parameters ?? {});
  const mark = src.qmp.mark();
  const dstMark = dst.qmp.mark();
  const startedAt = Date.now();
  await src.qmp.execute('migrate', { uri });
  const sampler = new MigrationSampler(src, opts.sampleIntervalMs ?? 100);
  try {
    if (opts.onActive) {
      await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'active', timeoutMs, mark);
      await opts.onActive(src, dst);
    }
    const end = await src.qmp
      .waitForEvent('MIGRATION', (e) => TERMINAL.has(String(e.data?.status)), timeoutMs, mark)
      .catch((e) => {
        if (e instanceof DeadlineError)
          throw new DeadlineError(`${src.name}: migration to finish`, timeoutMs, sampler.last ?? e.lastState);
        throw e;
      });
    const completedAt = end.receivedAt;
    const info = await src.queryMigrate();
    const status = String(end.data?.status);
    if (status !== 'completed')
      throw new MigrationFailedError(`migration ${status}: ${info['error-desc'] ?? '(no error-desc)'}`, { info });
    // The destination runs once it has loaded everything: RESUME, then status running.
    await dst.qmp.waitForEvent('RESUME', () => true, scaled(60_000), dstMark);
    return { status, uri, info, series: await sampler.stop(), startedAt, completedAt };
  } finally {
    await sampler.stop();
  }
}

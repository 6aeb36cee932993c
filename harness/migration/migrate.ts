import { DeadlineError, describe } from '../util/errors.js';
import { QemuExitedError } from '../vm/errors.js';
import { pollUntil, scaled } from '../util/time.js';
import type { QmpEvent, MigrationInfo } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';
import { applySettings, type MigrationSettings } from './apply.js';
import { GuestLostError, MigrationFailedError, MigrationPausedError } from './errors.js';
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
  /** Where a tcp destination listens (default loopback; a namespace's address for partitions). */
  listenHost?: string;
  /** migrate-incoming with exit-on-error false (9.1+): a failed load stays in query-migrate instead of exiting. */
  keepDestinationOnError?: boolean;
  /** Settings for the destination only, merged over the shared ones (a mismatch on purpose). */
  destination?: MigrationSettings;
  /** Maps the destination's real URI to the one the source is given (a socat bridge in between). */
  route?: (dstUri: string) => Promise<string>;
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

const POSTCOPY = /^postcopy-/;

function destinationSettings(opts: MigrateOptions): MigrationSettings {
  const d = opts.destination;
  if (!d) return opts;
  return {
    capabilities: { ...opts.capabilities, ...d.capabilities },
    parameters: { ...opts.parameters, ...d.parameters },
  };
}

/** QEMU went away while awaited: how it ended and its last stderr lines. */
async function exitedWhileWaiting(vm: StartedVm, what: string, lastEvent: unknown): Promise<QemuExitedError> {
  const exit = await vm.process.exited;
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  const said = vm.stderrText().trim().split('\n').slice(-3).join(' | ');
  return new QemuExitedError(
    `${vm.name}: QEMU exited (${how}) while the harness waited for ${what}; last event: ${describe(lastEvent)}; stderr: ${said || '(empty)'}`,
    { exit, lastEvent },
  );
}

/** Destination side: settings (multifd-channels before migrate-incoming), then migrate-incoming. */
export async function startIncoming(dst: StartedVm, opts: MigrateOptions): Promise<void> {
  await applySettings(dst, destinationSettings(opts));
  await dst.qmp.execute('migrate-incoming', {
    uri: incomingUri(dst, opts.transport ?? 'tcp', opts.listenHost),
    ...(opts.keepDestinationOnError ? { 'exit-on-error': false } : {}),
  });
}

/** A migration under way: sampled, with waits on both sides' MIGRATION events. */
export class RunningMigration {
  readonly sampler: MigrationSampler;
  readonly startedAt = Date.now();
  /** Where finish() looks for the end: moved past each recovered postcopy pause. */
  private epoch: number;

  constructor(
    readonly src: StartedVm,
    readonly dst: StartedVm,
    readonly uri: string,
    readonly opts: MigrateOptions,
    readonly srcMark: number,
    readonly dstMark: number,
    /** Whether the guest ran on the source when `migrate` was sent (it stays paused on the destination if not). */
    readonly srcWasRunning = true,
  ) {
    this.sampler = new MigrationSampler(src, opts.sampleIntervalMs ?? 100);
    this.epoch = srcMark;
  }

  /** After a recovery: earlier postcopy-paused events are history, not the end. */
  resumedAt(srcMark: number): void {
    this.epoch = Math.max(this.epoch, srcMark);
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs ?? scaled(180_000);
  }

  /** Waits for a MIGRATION status on the source (from `since`, default the start); a timeout names the last sampled state. */
  waitStatus(want: (status: string) => boolean, what: string, timeoutMs = this.timeoutMs, since = this.srcMark): Promise<QmpEvent> {
    return this.waitOn(this.src, want, what, timeoutMs, since);
  }

  /** The same on the destination: its events come from the monitor's I/O thread even when its main loop is blocked. */
  waitDstStatus(want: (status: string) => boolean, what: string, timeoutMs = this.timeoutMs, since = this.dstMark): Promise<QmpEvent> {
    return this.waitOn(this.dst, want, what, timeoutMs, since);
  }

  private waitOn(vm: StartedVm, want: (s: string) => boolean, what: string, timeoutMs: number, since: number): Promise<QmpEvent> {
    return vm.qmp.waitForEvent('MIGRATION', (e) => want(String(e.data?.status)), timeoutMs, since).catch(async (e) => {
      if (!(e instanceof DeadlineError)) throw e;
      if (vm.qmp.closed) throw await exitedWhileWaiting(vm, `the migration ${what}`, e.lastState);
      throw new DeadlineError(`${vm.name}: migration ${what}`, timeoutMs, vm === this.src ? (this.sampler.last ?? e.lastState) : { lastEvent: e.lastState });
    });
  }

  /**
   * A side died while postcopy was under way: the guest is lost. Builds the report of
   * which side, how it ended, and what the survivor says; undefined while both live.
   */
  async lostGuest(): Promise<GuestLostError | undefined> {
    const dead = [this.src, this.dst].find((v) => !v.process.running);
    if (!dead) return undefined;
    const other = dead === this.src ? this.dst : this.src;
    const wasPostcopy = POSTCOPY.test(other.lastMigrationStatus ?? '') || POSTCOPY.test(this.sampler.last?.status ?? '');
    if (!wasPostcopy) return undefined;
    // The survivor notices the broken link and pauses; wait for it to say so.
    const since = Math.max(0, other.qmp.events.findLastIndex((e) => e.event === 'MIGRATION' && e.data?.status === 'postcopy-active'));
    const paused = await other.qmp
      .waitForEvent('MIGRATION', (e) => e.data?.status === 'postcopy-paused', scaled(30_000), since)
      .then(() => 'postcopy-paused')
      .catch(() => other.lastMigrationStatus ?? 'unknown');
    const exit = dead.process.exit;
    const how = exit?.signal ? `was killed by ${exit.signal}` : `exited with code ${exit?.code}`;
    const side = dead === this.src ? 'source' : 'destination';
    return new GuestLostError(
      `guest lost: the ${side} QEMU (${dead.name}, pid ${dead.process.pid}) ${how} during postcopy; ` +
        `the ${side === 'source' ? 'destination' : 'source'} (${other.name}) is in ${paused} and can never complete: ` +
        `${side === 'source' ? 'the pages it had not received yet died with the source' : 'the guest ran on the destination, so its newest memory died there'}`,
      { side, exit, survivorStatus: paused },
    );
  }

  /**
   * Waits for the end, checks it is the expected one, and (when completed) for the destination
   * to run. Postcopy-paused with nobody recovering, or a side dying, end the wait at once.
   */
  async finish(): Promise<MigrationResult> {
    const expect = this.opts.expect ?? 'completed';
    const transport = this.opts.transport ?? 'tcp';
    try {
      const end = await this.waitStatus((s) => TERMINAL.has(s) || s === 'postcopy-paused', 'to finish', this.timeoutMs, this.epoch).catch(async (e) => {
        throw (await this.lostGuest()) ?? e;
      });
      const status = String(end.data?.status);
      if (status === 'postcopy-paused')
        throw (await this.lostGuest()) ??
          new MigrationPausedError(`${this.src.name}: postcopy paused (the link to the destination failed) and was not recovered`);
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
        // The destination runs once it has loaded everything (postcopy: from the switchover on).
        // Without return-path the source says completed even if the destination then refuses.
        // A source migrated while stopped (an I/O error, a `stop`) leaves the destination paused:
        // then its own MIGRATION completed is the end.
        const [event, want, what] = this.srcWasRunning
          ? ['RESUME', () => true, 'it to run the guest after the source reported completed']
          : ['MIGRATION', (e: QmpEvent) => e.data?.status === 'completed', 'it to load the state of a stopped source'];
        await this.dst.qmp.waitForEvent(event, want, scaled(120_000), this.dstMark).catch(async (e) => {
          if (e instanceof DeadlineError && this.dst.qmp.closed) throw await exitedWhileWaiting(this.dst, what, e.lastState);
          throw e;
        });
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
  const running = (await src.status()).running;
  const dstMark = dst.qmp.mark();
  if (transport === 'fd') {
    // A connected socket pair; each end goes to its QEMU by name, over SCM_RIGHTS.
    const pair = await socketPair();
    try {
      await applySettings(dst, destinationSettings(settings));
      await applySettings(src, settings);
      await runWithPassedFd(dst, pair.dstFd, 'migrate-incoming', { uri: 'fd:migfd' });
      pair.closeDst();
      const srcMark = src.qmp.mark();
      await runWithPassedFd(src, pair.srcFd, 'migrate', { uri: 'fd:migfd' });
      pair.closeSrc();
      return new RunningMigration(src, dst, 'fd:migfd', settings, srcMark, dstMark, running);
    } finally {
      pair.closeDst();
      pair.closeSrc();
    }
  }
  if (isStreaming(transport)) await startIncoming(dst, settings);
  else await applySettings(dst, destinationSettings(settings));
  await applySettings(src, settings);
  const dstUri = await outgoingUri(dst, transport);
  const uri = opts.route ? await opts.route(dstUri) : dstUri;
  const srcMark = src.qmp.mark();
  await src.qmp.execute('migrate', { uri });
  return new RunningMigration(src, dst, uri, settings, srcMark, dstMark, running);
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

import { DeadlineError, describe } from '../util/errors.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import { QemuExitedError } from '../vm/errors.js';
import type { QmpEvent, MigrationInfo, MigrationStatus, RunState } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';
import { applySettings, type MigrationSettings } from './apply.js';
import { GuestLostError, MigrationFailedError, MigrationPausedError } from './errors.js';
import { MigrationSampler, TERMINAL, type MigrationSample } from './stats.js';
import { runWithPassedFd } from './fdpass.js';
import { execOverTcp, incomingUri, isStreaming, outgoingUri, socketPair, type Transport } from './transport.js';

/** The two ends of a migration, as every layer above names them. */
export type Side = 'source' | 'destination';

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
  /** Deadline for the whole migration (unscaled; default DEADLINES.migration). */
  timeoutMs?: number;
  sampleIntervalMs?: number;
  /** The status the migration must end in (default completed; a negative scenario says failed/cancelled). */
  expect?: 'completed' | 'failed' | 'cancelled';
}

export interface MigrationResult {
  status: MigrationStatus;
  uri: string;
  /** Source's final query-migrate. */
  info: MigrationInfo;
  series: MigrationSample[];
  startedAt: number;
  completedAt: number;
  /** The source's run state when `migrate` was sent: the destination must end in the same one. */
  sourceRunState: RunState;
}

/** Which statuses a wait accepts: one, several, or a predicate. */
export type StatusMatch = MigrationStatus | readonly MigrationStatus[] | ((s: MigrationStatus) => boolean);

export interface StatusWait extends Wait {
  /** Whose MIGRATION events (default the source's). */
  side?: Side;
  /** Says what is awaited in a timeout ("to switch to postcopy-active"); default the statuses. */
  what?: string;
}

const POSTCOPY = /^postcopy-/;

/** The transport when a migration names none: the one place that decides it. */
export const transportOf = (opts: Pick<MigrateOptions, 'transport'>): Transport => opts.transport ?? 'tcp';

function matcher(want: StatusMatch): (s: MigrationStatus) => boolean {
  if (typeof want === 'function') return want;
  const set = new Set<string>(typeof want === 'string' ? [want] : want);
  return (s) => set.has(s);
}

function describeMatch(want: StatusMatch): string {
  return typeof want === 'function' ? 'the awaited status' : `status ${typeof want === 'string' ? want : want.join(' or ')}`;
}

function destinationSettings(opts: MigrateOptions): MigrationSettings {
  const d = opts.destination;
  if (!d) return opts;
  return {
    capabilities: { ...opts.capabilities, ...d.capabilities },
    parameters: { ...opts.parameters, ...d.parameters },
  };
}

/** QEMU went away while awaited: how it ended and its last stderr lines. */
export async function exitedWhileWaiting(vm: StartedVm, what: string, lastEvent: unknown): Promise<QemuExitedError> {
  const exit = await vm.process.exited;
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  const said = vm.stderrErrors().slice(-3).join(' | ');
  return new QemuExitedError(
    `${vm.name}: QEMU exited (${how}) while the harness waited for ${what}; last event: ${describe(lastEvent)}; stderr: ${said || '(empty)'}`,
    { exit, lastEvent },
  );
}

/** Destination side: settings (multifd-channels before migrate-incoming), then migrate-incoming. */
export async function startIncoming(dst: StartedVm, opts: MigrateOptions): Promise<void> {
  await applySettings(dst, destinationSettings(opts));
  await dst.qmp.execute('migrate-incoming', {
    uri: incomingUri(dst, transportOf(opts), opts.listenHost),
    ...(opts.keepDestinationOnError ? { 'exit-on-error': false } : {}),
  });
}

/** A migration under way: sampled, with waits on both sides' MIGRATION events. */
export class RunningMigration {
  readonly sampler: MigrationSampler;
  readonly startedAt = Date.now();
  /** Resolved once: every later step uses this, not its own default. */
  readonly transport: Transport;
  /** Where finish() looks for the end: moved past each recovered postcopy pause. */
  private epoch: number;

  constructor(
    readonly src: StartedVm,
    readonly dst: StartedVm,
    readonly uri: string,
    readonly opts: MigrateOptions,
    readonly srcMark: number,
    readonly dstMark: number,
    /** The source's run state when `migrate` was sent (a stopped or suspended guest stays so on the destination). */
    readonly sourceRunState: RunState = 'running',
  ) {
    this.transport = transportOf(opts);
    this.sampler = new MigrationSampler(src, opts.sampleIntervalMs ?? 100);
    this.epoch = srcMark;
  }

  /** After a recovery: earlier postcopy-paused events are history, not the end. */
  resumedAt(srcMark: number): void {
    this.epoch = Math.max(this.epoch, srcMark);
  }

  vm(side: Side): StartedVm {
    return side === 'source' ? this.src : this.dst;
  }

  /**
   * Waits for a MIGRATION status on one side (default the source), from `since` (default the
   * migration's start); a timeout names what was awaited and the last sampled state.
   */
  waitStatus(want: StatusMatch, opts: StatusWait = {}): Promise<QmpEvent> {
    const side = opts.side ?? 'source';
    const vm = this.vm(side);
    const since = opts.since ?? (side === 'source' ? this.srcMark : this.dstMark);
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? deadline(undefined, 'migration');
    const what = opts.what ?? describeMatch(want);
    const ok = matcher(want);
    return vm.qmp.waitForEvent('MIGRATION', (e) => ok(String(e.data?.status)), { timeoutMs, since }).catch(async (e) => {
      if (!(e instanceof DeadlineError)) throw e;
      if (vm.qmp.closed) throw await exitedWhileWaiting(vm, `the migration ${what}`, e.lastState);
      throw new DeadlineError(`${vm.name}: migration ${what}`, e.timeoutMs, side === 'source' ? (this.sampler.last ?? e.lastState) : { lastEvent: e.lastState });
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
      .waitForEvent('MIGRATION', (e) => e.data?.status === 'postcopy-paused', { timeoutMs: 30_000, since })
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
   * to take over. Postcopy-paused with nobody recovering, or a side dying, end the wait at once.
   */
  async finish(): Promise<MigrationResult> {
    const expect = this.opts.expect ?? 'completed';
    try {
      const end = await this.waitStatus((s) => TERMINAL.has(s) || s === 'postcopy-paused', { what: 'to finish', since: this.epoch }).catch(async (e) => {
        throw (await this.lostGuest()) ?? e;
      });
      const status = String(end.data?.status) as MigrationStatus;
      if (status === 'postcopy-paused')
        throw (await this.lostGuest()) ??
          new MigrationPausedError(`${this.src.name}: postcopy paused (the link to the destination failed) and was not recovered`);
      // QEMU (seen on 7.2 with multifd) may say completed before it has filled in the final
      // figures: query until total-time and the ram section are there.
      const info =
        status === 'completed'
          ? await pollUntil(`${this.src.name}: final migration figures`, deadline(undefined, 'finalFigures'), async () => {
              const i = await this.src.queryMigrate();
              return { done: (i['total-time'] ?? 0) > 0 && i.ram !== undefined, value: i, state: i };
            }, 50)
          : await this.src.queryMigrate();
      if (status !== expect)
        throw new MigrationFailedError(`migration ended '${status}', expected '${expect}': ${info['error-desc'] ?? '(no error-desc)'}`, { info, status });
      if (status === 'completed') await this.awaitDestination();
      return {
        status,
        uri: this.uri,
        info,
        series: await this.sampler.stop(),
        startedAt: this.startedAt,
        completedAt: end.receivedAt,
        sourceRunState: this.sourceRunState,
      };
    } finally {
      await this.sampler.stop();
    }
  }

  /**
   * The destination runs once it has loaded everything (postcopy: from the switchover on).
   * Without return-path the source says completed even if the destination then refuses.
   * A source migrated while stopped (an I/O error, a `stop`, a suspend) leaves the destination
   * not running: then its own MIGRATION completed is the end.
   */
  private async awaitDestination(): Promise<void> {
    if (!isStreaming(this.transport)) await this.dst.qmp.execute('migrate-incoming', { uri: incomingUri(this.dst, this.transport) });
    const [event, want, what] =
      this.sourceRunState === 'running'
        ? ['RESUME', () => true, 'it to run the guest after the source reported completed']
        : ['MIGRATION', (e: QmpEvent) => e.data?.status === 'completed', 'it to load the state of a stopped source'];
    // Over a monitor reopened after a lost control link the event may have come unseen: ask.
    const missed = async () =>
      this.sourceRunState === 'running' ? (await this.dst.status()).status === 'running' : (await this.dst.queryMigrate()).status === 'completed';
    await this.dst.qmp.waitForEvent(event, want, { timeoutMs: deadline(undefined, 'switchover'), since: this.dstMark, missed }).catch(async (e) => {
      if (e instanceof DeadlineError && this.dst.qmp.closed) throw await exitedWhileWaiting(this.dst, what, e.lastState);
      throw e;
    });
  }
}

/** Applies settings on both sides (read back), starts the destination listening, and sends `migrate`. */
export async function startMigration(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<RunningMigration> {
  const transport = transportOf(opts);
  const capabilities = opts.beforeSwitchover ? { ...opts.capabilities, 'pause-before-switchover': true } : opts.capabilities;
  // A destination on another host listens on its migration address unless told otherwise.
  const settings: MigrateOptions = { ...opts, transport, capabilities, listenHost: opts.listenHost ?? dst.listenAddress };
  const runState = (await src.status()).status;
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
      return new RunningMigration(src, dst, 'fd:migfd', settings, srcMark, dstMark, runState);
    } finally {
      pair.closeDst();
      pair.closeSrc();
    }
  }
  // exec across hosts: the ports the destination listened on before, so socat's is the new one.
  const before = execOverTcp(transport, settings.listenHost) ? await dst.listeningPorts() : undefined;
  if (isStreaming(transport)) await startIncoming(dst, settings);
  else await applySettings(dst, destinationSettings(settings));
  await applySettings(src, settings);
  const dstUri = await outgoingUri(dst, transport, { listenHost: settings.listenHost, before });
  const uri = opts.route ? await opts.route(dstUri) : dstUri;
  const srcMark = src.qmp.mark();
  await src.qmp.execute('migrate', { uri });
  return new RunningMigration(src, dst, uri, settings, srcMark, dstMark, runState);
}

/** Runs the hooks at their states: onActive once active, beforeSwitchover at pre-switchover (then migrate-continue). */
export async function runHooks(m: RunningMigration, hooks: MigrateHooks): Promise<void> {
  if (hooks.onActive) {
    await m.waitStatus((s) => s === 'active' || TERMINAL.has(s), { what: 'to become active' });
    await hooks.onActive(m.src, m.dst);
  }
  if (hooks.beforeSwitchover) {
    const e = await m.waitStatus((s) => s === 'pre-switchover' || TERMINAL.has(s), { what: 'to reach pre-switchover' });
    if (e.data?.status === 'pre-switchover') {
      await hooks.beforeSwitchover(m.src, m.dst);
      // The hook may have cancelled: continue only a migration still waiting.
      if ((await m.src.queryMigrate()).status === 'pre-switchover') await m.src.qmp.execute('migrate-continue', { state: 'pre-switchover' });
    }
  }
}

/**
 * Migrates src to dst: settings applied and read back on both sides, hooks run at their
 * states, the source sampled until a terminal state, the destination awaited until it takes over.
 */
export async function migrate(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const m = await startMigration(src, dst, opts);
  await runHooks(m, opts);
  return m.finish();
}

import { DeadlineError, describe } from '../util/errors.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import type { PhaseSpan } from '../util/phases.js';
import { QemuExitedError } from '../vm/errors.js';
import type { QmpEvent, MigrationInfo, MigrationStatus, RunState } from '../qmp/types.js';
import type { StartedVm } from '../vm/started.js';
import { applySettings, type MigrationSettings } from './apply.js';
import { DestinationFailedError, GuestLostError, MigrationFailedError, MigrationHungError, MigrationPausedError } from './errors.js';
import { MigrationSampler, TERMINAL, type MigrationSample } from './stats.js';
import { runWithPassedFd } from './fdpass.js';
import { execOverTcp, socketPair, transportKind, type Transport } from './transport.js';

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
  /** tcp: `migrate` names the destination by the `channels` argument (8.2+), not a URI. */
  channels?: boolean;
  /** file: where in the file the stream starts (`offset=`; a string goes to QEMU as written). */
  fileOffset?: number | string;
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
/** Statuses after which a side migrates no more, whatever anyone waits for. */
const ENDED: ReadonlySet<MigrationStatus> = new Set<MigrationStatus>(['failed', 'cancelled']);

/** The transport when a migration names none: the one place that decides it. */
export const transportOf = (opts: Pick<MigrateOptions, 'transport'>): Transport => transportKind(opts.transport).name;

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

/** How a process ended, as a sentence: "killed by SIGSEGV", "exit code 1". */
export const howExited = (exit: { code?: number; signal?: string } | undefined) => (exit?.signal ? `killed by ${exit.signal}` : `exit code ${exit?.code}`);

/** A QEMU that is gone: how it ended and its last stderr lines. */
export function exitedError(vm: StartedVm, what: string, lastEvent?: unknown): QemuExitedError {
  const exit = vm.process.exit;
  const said = vm.stderrErrors().slice(-3).join(' | ');
  return new QemuExitedError(
    `${vm.name}: QEMU exited (${howExited(exit)}) while the harness waited for ${what}; last event: ${describe(lastEvent)}; stderr: ${said || '(empty)'}`,
    { exit, lastEvent, vm: vm.name, stderr: said },
  );
}

/** QEMU went away while awaited: waits for its exit status, then says how it ended. */
export async function exitedWhileWaiting(vm: StartedVm, what: string, lastEvent: unknown): Promise<QemuExitedError> {
  await vm.process.exited;
  return exitedError(vm, what, lastEvent);
}

/** Destination side: settings (multifd-channels before migrate-incoming), then migrate-incoming. */
export async function startIncoming(dst: StartedVm, opts: MigrateOptions): Promise<void> {
  await applySettings(dst, destinationSettings(opts));
  await dst.qmp.execute('migrate-incoming', {
    uri: transportKind(opts.transport).incomingUri(dst, opts.listenHost),
    ...(opts.keepDestinationOnError ? { 'exit-on-error': false } : {}),
  });
}

/** A migration under way: sampled, with waits on both sides' MIGRATION events. */
export class RunningMigration {
  readonly sampler: MigrationSampler;
  /** When `migrate` was sent. */
  readonly startedAt: number;
  /** Resolved once: every later step uses this, not its own default. */
  readonly transport: Transport;
  /** Where finish() looks for the end: moved past each recovered postcopy pause. */
  private epoch: number;
  /** The pre-switchover hook ran (at the switch to postcopy, or before the end): never twice. */
  switchoverHookRan = false;
  /**
   * The migration on the source's clock (its scope's): from here until the source's sampling
   * ends (its terminal state seen, its QEMU gone, or finish() done).
   */
  private readonly span: PhaseSpan;

  constructor(
    readonly src: StartedVm,
    readonly dst: StartedVm,
    readonly uri: string,
    readonly opts: MigrateOptions,
    readonly srcMark: number,
    readonly dstMark: number,
    /** The source's run state when `migrate` was sent (a stopped or suspended guest stays so on the destination). */
    readonly sourceRunState: RunState = 'running',
    /** When `migrate` was sent, if before now (a mode that attached to its destination after it). */
    startedAt?: number,
  ) {
    this.startedAt = startedAt ?? Date.now();
    this.transport = transportOf(opts);
    this.sampler = new MigrationSampler(src, opts.sampleIntervalMs ?? 100);
    this.epoch = srcMark;
    this.span = src.clock.begin('migrating', this.startedAt);
    void this.sampler.ended.then(() => this.span.end());
  }

  /** After a recovery: earlier postcopy-paused events are history, not the end. */
  resumedAt(srcMark: number): void {
    this.epoch = Math.max(this.epoch, srcMark);
  }

  vm(side: Side): StartedVm {
    return side === 'source' ? this.src : this.dst;
  }

  /** The latest MIGRATION status a side reported during this migration. */
  statusOf(side: Side): MigrationStatus | undefined {
    const vm = this.vm(side);
    const e = vm.qmp.events.slice(side === 'source' ? this.srcMark : this.dstMark).findLast((x) => x.event === 'MIGRATION');
    return e ? (String(e.data?.status) as MigrationStatus) : undefined;
  }

  /**
   * Why waits on this migration must end now, quoting it: a side whose process exited, or a
   * side that reported failed or cancelled (`accepts` says which of those the waiter awaits).
   */
  endedElsewhere(accepts: (side: Side, s: MigrationStatus) => boolean = () => false): Error | undefined {
    for (const side of ['source', 'destination'] as const) {
      const vm = this.vm(side);
      if (!vm.process.running) return exitedError(vm, `its migration (${side})`);
      const s = this.statusOf(side);
      if (s && ENDED.has(s) && !accepts(side, s)) {
        const said = side === 'destination' ? vm.stderrErrors().slice(-2).join(' | ') : '';
        return new MigrationFailedError(`${vm.name} (${side}) reported '${s}'${said ? `: ${said}` : ''}`, { status: s, side });
      }
    }
    return undefined;
  }

  /**
   * Waits for a MIGRATION status on one side (default the source), from `since` (default the
   * migration's start). Ends at once when either side reports failed or cancelled (unless
   * that is what is awaited) or its QEMU exits; a timeout names what was awaited and the last
   * sampled state.
   */
  waitStatus(want: StatusMatch, opts: StatusWait = {}): Promise<QmpEvent> {
    const side = opts.side ?? 'source';
    const vm = this.vm(side);
    const since = opts.since ?? (side === 'source' ? this.srcMark : this.dstMark);
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? deadline(undefined, 'migration');
    const what = opts.what ?? describeMatch(want);
    const ok = matcher(want);
    const stop = () => this.endedElsewhere((s, st) => s === side && ok(st));
    return vm.qmp.waitForEvent('MIGRATION', (e) => ok(String(e.data?.status)), { timeoutMs, since, stop }).catch(async (e) => {
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
      .waitForEvent('MIGRATION', (e) => e.data?.status === 'postcopy-paused', { timeoutMs: deadline(undefined, 'survivor'), since })
      .then(() => 'postcopy-paused')
      .catch(() => other.lastMigrationStatus ?? 'unknown');
    await dead.process.exited;
    const exit = dead.process.exit;
    const side = dead === this.src ? 'source' : 'destination';
    return new GuestLostError(
      `guest lost: the ${side} QEMU (${dead.name}, pid ${dead.process.pid}) ${exit?.signal ? `was killed by ${exit.signal}` : `exited with code ${exit?.code}`} during postcopy; ` +
        `the ${side === 'source' ? 'destination' : 'source'} (${other.name}) is in ${paused} and can never complete: ` +
        `${side === 'source' ? 'the pages it had not received yet died with the source' : 'the guest ran on the destination, so its newest memory died there'}`,
      { side, exit, survivorStatus: paused },
    );
  }

  /** How long the source has moved no byte, from its samples. */
  noProgressMs(): number {
    const s = this.sampler.samples;
    const last = s.at(-1);
    if (!last) return 0;
    let i = s.length - 1;
    while (i > 0 && s[i - 1]!.transferred === last.transferred) i--;
    return last.t - s[i]!.t;
  }

  /**
   * Waits for the source's end. A destination that ended first (failed, exited) gives the
   * source a short grace to notice, then ends the wait quoting it; a deadline passing with no
   * byte moved is a hung migration.
   */
  private async sourceEnd(): Promise<QmpEvent> {
    const want = (s: MigrationStatus) => TERMINAL.has(s) || s === 'postcopy-paused';
    let peerEndedAt: number | undefined;
    const stop = () => {
      if (!this.src.process.running) return exitedError(this.src, 'the migration to finish');
      const peer = this.endedElsewhere((side) => side === 'source');
      if (!peer) return undefined;
      peerEndedAt ??= Date.now();
      return Date.now() - peerEndedAt > deadline(undefined, 'peerEnded') ? peer : undefined;
    };
    const timeoutMs = this.opts.timeoutMs ?? deadline(undefined, 'migration');
    return this.src.qmp.waitForEvent('MIGRATION', (e) => want(String(e.data?.status)), { timeoutMs, since: this.epoch, stop }).catch(async (e) => {
      if (!(e instanceof DeadlineError)) throw e;
      if (this.src.qmp.closed) throw await exitedWhileWaiting(this.src, 'the migration to finish', e.lastState);
      const last = this.sampler.last;
      throw new MigrationHungError(
        `${this.src.name}: the migration did not finish within ${(e.timeoutMs / 1000).toFixed(0)} s; no byte moved for the last ${(this.noProgressMs() / 1000).toFixed(1)} s; last figures: ${describe(last)}`,
        { last, noProgressMs: this.noProgressMs() },
      );
    });
  }

  /** The source's final figures. */
  protected finalInfo(status: MigrationStatus, _end: QmpEvent): Promise<MigrationInfo> {
    // QEMU (seen on 7.2 with multifd) may say completed before it has filled in the final
    // figures: query until total-time and the ram section are there.
    if (status !== 'completed') return this.src.queryMigrate();
    return pollUntil(`${this.src.name}: final migration figures`, deadline(undefined, 'finalFigures'), async () => {
      const i = await this.src.queryMigrate();
      return { done: (i['total-time'] ?? 0) > 0 && i.ram !== undefined, value: i, state: i };
    }, 50);
  }

  /**
   * Waits for the end, checks it is the expected one, and (when completed) for the destination
   * to take over. Postcopy-paused with nobody recovering, or a side dying, end the wait at once.
   */
  async finish(): Promise<MigrationResult> {
    const expect = this.opts.expect ?? 'completed';
    try {
      const end = await this.sourceEnd().catch(async (e) => {
        throw (await this.lostGuest()) ?? e;
      });
      const status = String(end.data?.status) as MigrationStatus;
      if (status === 'postcopy-paused')
        throw (await this.lostGuest()) ??
          new MigrationPausedError(`${this.src.name}: postcopy paused (the link to the destination failed) and was not recovered`);
      const info = await this.finalInfo(status, end);
      if (status !== expect)
        throw new MigrationFailedError(`migration ended '${status}', expected '${expect}': ${info['error-desc'] ?? '(no error-desc)'}`, { info, status });
      // The destination loading the rest (a file: all of it) is QEMU migrating too.
      if (status === 'completed') await this.src.clock.time('migrating', () => this.awaitDestination(info));
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
   * Without return-path the source says completed even if the destination then refuses: the
   * wait ends as soon as the destination fails or exits (the guest runs nowhere). A source
   * migrated while stopped (an I/O error, a `stop`, a suspend) leaves the destination not
   * running: then its own MIGRATION completed is the end.
   */
  private async awaitDestination(info: MigrationInfo): Promise<void> {
    const t = transportKind(this.transport);
    if (!t.streaming) await this.dst.qmp.execute('migrate-incoming', { uri: t.incomingUri(this.dst, undefined, { offset: this.opts.fileOffset }) });
    const [event, want, what] =
      this.sourceRunState === 'running'
        ? ['RESUME', () => true, 'it to run the guest after the source reported completed']
        : ['MIGRATION', (e: QmpEvent) => e.data?.status === 'completed', 'it to load the state of a stopped source'];
    // Over a monitor reopened after a lost control link the event may have come unseen: ask.
    const missed = async () =>
      this.sourceRunState === 'running' ? (await this.dst.status()).status === 'running' : (await this.dst.queryMigrate()).status === 'completed';
    const lost = (why: string) =>
      new DestinationFailedError(`the source completed, but the destination ${why}: the guest runs nowhere`, { info, destination: why, stderr: this.dst.stderrErrors().slice(-3).join(' | ') });
    const stop = () => {
      if (!this.dst.process.running) return lost(`QEMU exited (${howExited(this.dst.process.exit)}): ${this.dst.stderrErrors().slice(-3).join(' | ') || '(no stderr)'}`);
      return this.statusOf('destination') === 'failed' ? lost(`reported failed: ${this.dst.stderrErrors().slice(-3).join(' | ') || '(no stderr)'}`) : undefined;
    };
    await this.dst.qmp.waitForEvent(event, want, { timeoutMs: deadline(undefined, 'switchover'), since: this.dstMark, missed, stop }).catch(async (e) => {
      if (e instanceof DeadlineError && this.dst.qmp.closed) {
        await this.dst.process.exited;
        throw stop() ?? (await exitedWhileWaiting(this.dst, what, e.lastState));
      }
      throw e;
    });
  }
}

/** Applies settings on both sides (read back), starts the destination listening, and sends `migrate`. */
export async function startMigration(src: StartedVm, dst: StartedVm, opts: MigrateOptions = {}): Promise<RunningMigration> {
  const transport = transportKind(opts.transport);
  const capabilities = opts.beforeSwitchover ? { ...opts.capabilities, 'pause-before-switchover': true } : opts.capabilities;
  // A destination on another host listens on its migration address unless told otherwise.
  const settings: MigrateOptions = { ...opts, transport: transport.name, capabilities, listenHost: opts.listenHost ?? dst.listenAddress };
  const runState = (await src.status()).status;
  const dstMark = dst.qmp.mark();
  if (transport.passesFd) {
    // A connected socket pair; each end goes to its QEMU by name, over SCM_RIGHTS.
    const pair = await socketPair();
    try {
      await applySettings(dst, destinationSettings(settings));
      await applySettings(src, settings);
      await runWithPassedFd(dst, pair.dstFd, 'migrate-incoming', { uri: transport.incomingUri(dst) });
      pair.closeDst();
      const srcMark = src.qmp.mark();
      await runWithPassedFd(src, pair.srcFd, 'migrate', { uri: await transport.outgoingUri(dst) });
      pair.closeSrc();
      return new RunningMigration(src, dst, await transport.outgoingUri(dst), settings, srcMark, dstMark, runState);
    } finally {
      pair.closeDst();
      pair.closeSrc();
    }
  }
  // exec across hosts: the ports the destination listened on before, so socat's is the new one.
  const before = execOverTcp(transport.name, settings.listenHost) ? await dst.listeningPorts() : undefined;
  if (transport.streaming) await startIncoming(dst, settings);
  else await applySettings(dst, destinationSettings(settings));
  await applySettings(src, settings);
  const dstUri = await transport.outgoingUri(dst, { listenHost: settings.listenHost, before, offset: opts.fileOffset });
  const uri = opts.route ? await opts.route(dstUri) : dstUri;
  const srcMark = src.qmp.mark();
  await src.qmp.execute('migrate', opts.channels ? { channels: [mainChannel(uri)] } : { uri });
  return new RunningMigration(src, dst, uri, settings, srcMark, dstMark, runState);
}

/** A tcp URI as the `channels` argument's main channel. */
export function mainChannel(uri: string): Record<string, unknown> {
  const m = /^tcp:(.+):(\d+)$/.exec(uri);
  if (!m) throw new MigrationFailedError(`migration.channels: only a tcp destination can be given as a channel here, not ${uri}`);
  return { 'channel-type': 'main', addr: { transport: 'socket', type: 'inet', host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] } };
}

/** Runs the hooks at their states: onActive once active, beforeSwitchover at pre-switchover (then migrate-continue). */
export async function runHooks(m: RunningMigration, hooks: MigrateHooks): Promise<void> {
  if (hooks.onActive) {
    await m.waitStatus((s) => s === 'active' || TERMINAL.has(s), { what: 'to become active' });
    await hooks.onActive(m.src, m.dst);
  }
  if (hooks.beforeSwitchover && !m.switchoverHookRan) {
    const e = await m.waitStatus((s) => s === 'pre-switchover' || TERMINAL.has(s), { what: 'to reach pre-switchover' });
    if (e.data?.status === 'pre-switchover') {
      m.switchoverHookRan = true;
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

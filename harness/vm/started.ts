import { firmwareCrash, kernelCrash, type KernelCrash } from './crash.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { ExitInfo } from '../host/process.js';
import { listening, type GroupSockets, type Host, type HostProcess } from '../host/host.js';
import { localHost } from '../host/local.js';
import type { SocketTarget } from '../qmp/connection.js';
import { GuestAgentClient, GuestCommandError, GuestResetError } from '../qmp/agent.js';
import { QmpClient } from '../qmp/client.js';
import { migrationInfoSchema, statusInfoSchema, type MigrationInfo, type RunState, type StatusInfo } from '../qmp/types.js';
import type { HeartbeatStream } from './heartbeat.js';
import { AgentPulse } from './agent-pulse.js';
import type { BeatLog } from './beats.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { DEADLINES, deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import { PhaseClock, type PhaseSpan } from '../util/phases.js';
import { VmStartError } from './errors.js';
import type { QemuBinary } from '../qemu/catalog.js';
import type { VmPaths, VmSpec } from './spec.js';
import { loadStateFile, type StateFileSettings } from './state-file.js';

/** A VM after stop(): what it was and how it ended, nothing to stop any more. */
export class StoppedVm {
  constructor(
    readonly name: string,
    readonly argv: readonly string[],
    readonly exit: ExitInfo,
    readonly artifacts: ArtifactDir,
  ) {}
}

/** How a VM got to its guest: a real boot, a boot then saved as a snapshot, or restored from one. */
export type StartMode = 'booted' | 'booted+saved' | 'restored';

/** Everything a started VM is made of (vm/launch.ts puts it together). */
export interface VmParts {
  name: string;
  spec: VmSpec;
  argv: readonly string[];
  incoming: boolean;
  binary: QemuBinary;
  process: HostProcess;
  qmp: QmpClient;
  heartbeat: HeartbeatStream | undefined;
  paths: VmPaths;
  artifacts: ArtifactDir;
  cleanupDir: () => Promise<void>;
  reach?: (path: string) => SocketTarget;
  host?: Host;
  /** When QEMU was spawned (default: when the StartedVm was made). */
  spawnedAt?: number;
  /** Where its stderr goes (default: `<name>.stderr.log`); a QEMU exec'd in place writes to its predecessor's. */
  stderrFile?: string;
}

/** QEMU's word that the guest's agent process is gone: a reset, the guest's own shutdown, a reported panic. */
const isGuestReset = (e: { event: string; data?: unknown }) =>
  e.event === 'RESET' || e.event === 'GUEST_PANICKED' || (e.event === 'SHUTDOWN' && (e.data as { guest?: boolean } | undefined)?.guest !== false);

/** A running QEMU with its monitor, heartbeat and (lazily) guest agent. */
export class StartedVm implements AsyncDisposable {
  private agentClient: GuestAgentClient | undefined;
  /** One connection at a time: the agent's port takes a single client. */
  private agentConnecting: Promise<GuestAgentClient> | undefined;
  /** Bumped when the connection is dropped or the VM stops: a connect begun before is abandoned, its client closed. */
  private agentGeneration = 0;
  /** The QMP event index at which the current agent connection began to be made. */
  private agentSince = 0;
  private droppedAgentReconnects = 0;
  private stopped: Promise<StoppedVm> | undefined;
  /** Runs once, after the first time the guest was ready (snapshot start saves it then). */
  afterFirstReady: (() => Promise<void>) | undefined;
  startMode: StartMode = 'booted';
  /** Where it listens for an incoming migration (its host's migration address); loopback when unset. */
  listenAddress: string | undefined;
  /** Where its start and its migrations are timed: its scope's clock once VmPool started it (timeOn), else one of its own. */
  clock = new PhaseClock();
  /** When QEMU was spawned: its start is timed from here. */
  readonly spawnedAt: number;
  /** A booting guest's start, extended to the end of its first waitReady. */
  private booting: PhaseSpan | undefined;

  readonly name: string;
  readonly spec: VmSpec;
  readonly argv: readonly string[];
  readonly incoming: boolean;
  /** The QEMU it runs: a retry's destination or a pinned machine type starts from it. */
  readonly binary: QemuBinary;
  readonly process: HostProcess;
  readonly qmp: QmpClient;
  /** Its guest's signs of life: the heartbeat, or (spec.livenessFromAgent) the agent polled. */
  readonly heartbeat: BeatLog | undefined;
  readonly paths: VmPaths;
  readonly artifacts: ArtifactDir;
  /** The host it runs on, when not this machine. */
  readonly host?: Host;
  private readonly cleanupDir: () => Promise<void>;
  /** How its unix sockets are reached: directly, or through the host it runs on. */
  private readonly reach: (path: string) => SocketTarget;
  private readonly stderrFile: string;
  /** Set once its process exec'd into another QEMU (cpr-exec): the process is that VM's now. */
  private successor: string | undefined;

  /** @internal made by vm/launch.ts once QEMU runs and its monitor answers. */
  constructor(parts: VmParts) {
    this.name = parts.name;
    this.spec = parts.spec;
    this.argv = parts.argv;
    this.incoming = parts.incoming;
    this.binary = parts.binary;
    this.process = parts.process;
    this.qmp = parts.qmp;
    this.paths = parts.paths;
    this.artifacts = parts.artifacts;
    this.host = parts.host;
    this.cleanupDir = parts.cleanupDir;
    this.reach = parts.reach ?? ((p) => p);
    this.spawnedAt = parts.spawnedAt ?? Date.now();
    this.stderrFile = parts.stderrFile ?? this.artifacts.file(`${this.name}.stderr.log`);
    this.heartbeat = parts.heartbeat ?? (this.spec.livenessFromAgent ? this.agentPulse() : undefined);
    void this.failAgentOnGuestReset().catch(() => undefined);
  }

  /**
   * No wait on the agent outlives its guest: a reset (a panic with panic=-1 reboots), a guest's
   * own shutdown or a reported panic ends every exchange still waiting at once, saying which
   * event, instead of at its deadline. The next agent() connects to the new agent.
   */
  private async failAgentOnGuestReset(): Promise<void> {
    let at = this.qmp.mark();
    for await (const e of this.qmp.iterateEvents(at)) {
      const index = at++;
      if (!isGuestReset(e)) continue;
      // Only a connection made before the event: one made after it talks to the new agent.
      if (!this.agentClient || this.agentSince > index) continue;
      const data = (e.data ?? {}) as { reason?: string; action?: string };
      const what = `${e.event}${data.reason ?? data.action ? ` (${data.reason ?? data.action})` : ''}`;
      // Not awaited (the transcript's flush): the next event is read at once.
      void this.forgetAgent(new GuestResetError(`${this.name}: the guest agent will not answer: QEMU reported ${what}, the guest's agent process is gone`, { vm: this.name, event: e })).catch(() => undefined);
    }
  }

  /** Liveness from the agent: a destination is polled from when its guest first runs (RESUME), so its first answer times the handover. */
  private agentPulse(): AgentPulse {
    const runs = this.incoming
      ? (async () => {
          for await (const e of this.qmp.iterateEvents(0)) if (e.event === 'RESUME') return true;
          return false;
        })()
      : undefined;
    // Its process is another VM's after a cpr-exec: this one's pulse ends there.
    return new AgentPulse(this.name, { agent: () => this.agent(), running: () => this.process.running && !this.successor, runs, logFile: this.artifacts.file(`${this.name}.heartbeat.log`) });
  }

  /**
   * @internal cpr-exec: QEMU exec'd the VM `to` in its own process (same pid and group).
   * This one is gone but its process is not: stop() leaves the process to `to`.
   */
  handOver(to: string): void {
    this.successor = to;
  }

  /** The VM its process became (cpr-exec), if it did. */
  get handedOverTo(): string | undefined {
    return this.successor;
  }

  /**
   * @internal VmPool: times this VM on its scope's clock. Its start runs from the spawn to now
   * (QMP answering: a destination, or a guest restored from a snapshot), and for a booting
   * guest on to the end of its first waitReady; its migrations record there too.
   */
  timeOn(clock: PhaseClock): void {
    this.clock = clock;
    const span = clock.begin('boot', this.spawnedAt);
    span.end();
    if (!this.incoming && this.startMode !== 'restored') this.booting = span;
  }

  /**
   * Loads a guest's state from a file (a VM started with -incoming defer): migrate-incoming,
   * then waits until QEMU has loaded it. Whether it then runs is the stream's and -S's say.
   */
  loadStateFile(file: string, opts: Wait & StateFileSettings = {}): Promise<void> {
    return loadStateFile(this, file, opts);
  }

  /** The guest agent; reconnects if the previous connection closed. A connect under way is shared: its first caller's deadline holds. */
  async agent(opts: Wait = {}): Promise<GuestAgentClient> {
    // A connection that closed under a running QEMU (the link to its host broke) is made again.
    if (this.agentClient?.closed && !this.stopped && this.process.running) await this.dropAgent();
    if (this.agentClient) return this.agentClient;
    const generation = this.agentGeneration;
    const abandoned = () => generation !== this.agentGeneration;
    this.agentConnecting ??= (async () => {
      // A guest that reset while its agent was being reached may have answered the sync from
      // its dying agent: that connection would never be answered again, so it is made anew.
      for (let tries = 1; ; tries++) {
        const since = this.qmp.mark();
        const client = await GuestAgentClient.connect(this.reach(this.paths.agent), this.name, this.artifacts.file(`${this.name}.qga.log`), {
          ...opts,
          crashed: () => this.kernelCrash()?.line,
          abandoned,
        });
        if (abandoned()) {
          await client.close();
          throw new GuestCommandError(`${this.name}: the guest agent connection was dropped (or the VM stopped) while it was being made`);
        }
        const reset = this.qmp.events.slice(since).find(isGuestReset);
        if (!reset || tries === 3) {
          this.agentClient = client;
          this.agentSince = since;
          return client;
        }
        await client.close();
      }
    })().finally(() => (this.agentConnecting = undefined));
    return this.agentConnecting;
  }

  /**
   * Ready: the heartbeat is flowing and the agent answers. Waits on the guest, not on a sleep.
   * A booted guest also says READY; a restored one said it before it was saved.
   */
  async waitReady(opts: Wait = {}): Promise<void> {
    try {
      await this.waitGuest(opts);
      const after = this.afterFirstReady;
      this.afterFirstReady = undefined;
      if (after) {
        await after();
        await this.waitGuest(opts);
      }
    } finally {
      // The first wait for the guest ends its start, however it ended.
      this.booting?.end();
      this.booting = undefined;
    }
  }

  private async waitGuest(opts: Wait): Promise<void> {
    if (this.heartbeat && this.startMode !== 'restored') {
      // A firmware exception or a kernel that died while booting ends the wait at once: nothing will say READY.
      const died = () => this.bootCrash();
      // A user's image that never beats most likely lacks migtest's heartbeat unit: say where the contract is.
      const fromAgent = this.heartbeat.kind === 'agent';
      const contract = !this.spec.userImage
        ? ''
        : fromAgent
          ? `; ${this.spec.userImage} must run qemu-guest-agent on port org.qemu.guest_agent.0 (docs/guest-contract.md)`
          : `; ${this.spec.userImage} must run the heartbeat on port org.migtest.heartbeat, or run with --liveness agent (docs/guest-contract.md)`;
      const awaited = fromAgent ? "the guest agent to answer the liveness poll (/proc/uptime)" : 'guest READY on the heartbeat port';
      await pollUntil(`${this.name}: ${awaited} (see ${this.paths.serialLog}${contract})`, deadline(opts, 'boot'), () => ({
        done: this.heartbeat!.readyAt !== undefined || !this.process.running || !!died(),
        state: this.process.running ? this.serialTail() : `QEMU exited ${JSON.stringify(this.process.exit)}`,
      }));
      if (!this.process.running) throw new VmStartError(`${this.name}: QEMU exited while booting`, { artifacts: this.artifacts.path });
      const crash = this.heartbeat!.readyAt === undefined ? died() : undefined;
      if (crash) throw new VmStartError(`${this.name}: the guest died while booting: ${crash.excerpt.join(' | ')} (console: ${this.paths.serialLog})`, { artifacts: this.artifacts.path });
    }
    await this.guestAnswers();
  }

  /**
   * The guest is up: three beats, and its agent answering a ping. Independent, so awaited at
   * once (`opts` is each one's deadline).
   */
  async guestAnswers(opts: Wait = {}): Promise<void> {
    await Promise.all([this.heartbeat?.waitForBeats(3, opts), this.spec.agent ? this.agent(opts).then((a) => a.ping()) : undefined]);
  }

  /** The host it runs on: this machine unless onHost() put it elsewhere. */
  get on(): Host {
    return this.host ?? localHost;
  }

  /** Its process group's live members and TCP sockets, read on its host. */
  group(): Promise<GroupSockets> {
    return this.on.groupSockets(this.process.pid);
  }

  /** The ports its group listens on now: what `waitNewListener` compares with. */
  async listeningPorts(): Promise<Set<number>> {
    return new Set(listening(await this.group()));
  }

  /**
   * Waits until its group listens on ports it did not before (`port`, when one was asked
   * for): how a port the kernel chose is read back where QMP does not say it (socat under
   * exec:, nbd-server-start, migrate-recover on a blocked monitor). Returns the new ones.
   */
  async waitNewListener(before: ReadonlySet<number>, what: string, opts: Wait & { port?: number } = {}): Promise<number[]> {
    return pollUntil(`${this.name}: ${what}`, deadline(opts, 'listen'), async () => {
      const now = listening(await this.group());
      const fresh = opts.port ? now.filter((p) => p === opts.port) : now.filter((p) => !before.has(p));
      return { done: fresh.length > 0, value: fresh, state: { listening: now, before: [...before] } };
    });
  }

  /** The firmware's exception or the kernel's death (not a stall), as the console printed it during boot. */
  private bootCrash(): KernelCrash | undefined {
    const serial = this.serialText();
    return firmwareCrash(serial) ?? kernelCrash(serial, 6, true);
  }

  /** The guest kernel's crash report on this VM's console (a stall included, unless fatalOnly), if it printed one. */
  kernelCrash(fatalOnly = false): KernelCrash | undefined {
    return kernelCrash(this.serialText(), 6, fatalOnly);
  }

  private serialText(): string {
    return existsSync(this.paths.serialLog) ? readFileSync(this.paths.serialLog, 'utf8') : '';
  }

  serialTail(lines = 3): string {
    return existsSync(this.paths.serialLog)
      ? readFileSync(this.paths.serialLog, 'utf8').trim().split('\n').slice(-lines).join(' | ')
      : '(no serial output)';
  }

  /** The status of the last MIGRATION event this VM sent (either side of a migration). */
  get lastMigrationStatus(): string | undefined {
    for (let i = this.qmp.events.length - 1; i >= 0; i--) {
      const e = this.qmp.events[i]!;
      if (e.event === 'MIGRATION') return String(e.data?.status);
    }
    return undefined;
  }

  /** Reads and removes a file QEMU wrote (a memory dump into its private directory), on the host it runs on. */
  async takeFile(path: string): Promise<Buffer> {
    if (!this.host) {
      const data = readFileSync(path);
      rmSync(path, { force: true });
      return data;
    }
    const data = await this.host.readFile(path);
    await this.host.exec(['rm', '-f', '--', path]);
    return data;
  }

  /** Everything QEMU wrote to stderr so far (its error_report lines). */
  stderrText(): string {
    return existsSync(this.stderrFile) ? readFileSync(this.stderrFile, 'utf8') : '';
  }

  /** Its stderr lines that are not QEMU's warnings (a newer QEMU deprecates options the harness still passes). */
  stderrErrors(): string[] {
    return this.stderrText().split('\n').filter((l) => l.trim() && !/^[\w./-]+: (.*: )?warning: /.test(l));
  }

  /** A crash on purpose: SIGKILL to the group, no quit, no flush. Resolves once it is gone. */
  async kill(): Promise<ExitInfo> {
    void this.process.signal('SIGKILL');
    return this.process.waitExit();
  }

  async status(): Promise<StatusInfo> {
    return statusInfoSchema.parse(await this.qmp.execute('query-status'));
  }

  /** Waits until query-status says `want` (a run state: running, paused, suspended, ...). */
  async waitRunState(want: RunState, opts: Wait = {}): Promise<StatusInfo> {
    return this.pollRunState(`run state ${want}`, (s) => s === want, opts, 50);
  }

  /**
   * The run state a migration's source settles in: QEMU reports completed a moment before
   * its cleanup leaves finish-migrate (for postmigrate, or running after a background snapshot).
   */
  async statusAfterMigration(opts: Wait = {}): Promise<StatusInfo> {
    return this.pollRunState('the run state to leave finish-migrate after the migration', (s) => s !== 'finish-migrate', opts, 20);
  }

  private pollRunState(what: string, done: (s: RunState) => boolean, opts: Wait, intervalMs: number): Promise<StatusInfo> {
    return pollUntil(`${this.name}: ${what}`, deadline(opts, 'status'), async () => {
      const s = await this.status();
      return { done: done(s.status), value: s, state: s.status };
    }, intervalMs);
  }

  /**
   * Suspends the guest to RAM through the agent (guest-suspend-ram) and waits for QEMU's
   * SUSPEND event and run state `suspended`. The guest must support S3 (x86: ACPI S3 on).
   */
  async suspend(opts: Wait = {}): Promise<void> {
    const mark = this.qmp.mark();
    // The agent does not answer this command: the guest is gone before it could.
    await (await this.agent()).execute('guest-suspend-ram', undefined, 5_000).catch(() => undefined);
    await this.qmp.waitForEvent('SUSPEND', () => true, { ...opts, since: mark });
    await this.waitRunState('suspended', opts);
    // The agent's connection does not survive the suspend: a later agent() reconnects.
    await this.dropAgent();
  }

  /** Forgets the agent connection (the guest went back in time, or slept): the next agent() connects and syncs anew. */
  async dropAgent(): Promise<void> {
    this.agentGeneration++;
    await this.forgetAgent();
  }

  /** Closes the current agent connection (an exchange still waiting fails with `reason`) and keeps its reconnect count. */
  private async forgetAgent(reason?: Error): Promise<void> {
    const client = this.agentClient;
    this.agentClient = undefined;
    this.droppedAgentReconnects += client?.reconnects ?? 0;
    await client?.close(reason);
  }

  get qemuVersion(): string {
    return this.binary.version;
  }

  /** Times the guest agent left a repeatable exchange unanswered and was reconnected. */
  get agentReconnects(): number {
    return this.droppedAgentReconnects + (this.agentClient?.reconnects ?? 0);
  }

  /** system_wakeup and QEMU's WAKEUP event; the guest runs again. */
  async wakeup(opts: Wait = {}): Promise<void> {
    const mark = this.qmp.mark();
    await this.qmp.execute('system_wakeup');
    await this.qmp.waitForEvent('WAKEUP', () => true, { ...opts, since: mark });
    await this.waitRunState('running', opts);
  }

  async queryMigrate(): Promise<MigrationInfo> {
    return migrationInfoSchema.parse(await this.qmp.execute('query-migrate')) as MigrationInfo;
  }

  /** Escalating teardown: QMP quit, SIGTERM, SIGKILL. Idempotent. */
  stop(): Promise<StoppedVm> {
    this.stopped ??= (async () => {
      // Mid-postcopy the main loop may be blocked on a missing page (quit would hang) and
      // QEMU ignores SIGTERM in postcopy-paused: go straight to signals, briefly.
      const stuck = /^postcopy-/.test(this.lastMigrationStatus ?? '');
      const exit = this.successor ? { code: undefined, signal: undefined } : await this.process.stop({
        graceful: stuck || this.qmp.closed ? undefined : () => this.qmp.execute('quit', undefined, { timeoutMs: DEADLINES.quit }),
        graceMs: DEADLINES.teardownGrace,
        termMs: stuck ? DEADLINES.teardownQuick : DEADLINES.teardownTerm,
      });
      this.heartbeat?.close();
      // Kept, closed: a late agent() gets its closed connection, not a connect to a socket that is gone.
      this.agentGeneration++;
      await this.agentClient?.close();
      await this.qmp.close();
      await this.cleanupDir();
      return new StoppedVm(this.name, this.argv, exit, this.artifacts);
    })();
    return this.stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

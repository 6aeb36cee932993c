import { kernelCrash, type KernelCrash } from './crash.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GroupProcess, type ExitInfo } from '../host/process.js';
import { listening, type GroupSockets, type Host, type HostProcess } from '../host/host.js';
import { localHost } from '../host/local.js';
import type { SocketTarget } from '../qmp/connection.js';
import { GuestAgentClient } from '../qmp/agent.js';
import { QmpClient } from '../qmp/client.js';
import { migrationInfoSchema, statusInfoSchema, type MigrationInfo, type RunState, type StatusInfo } from '../qmp/types.js';
import { HeartbeatStream } from './heartbeat.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { privateDir } from '../util/privdir.js';
import { DEADLINES, deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import { buildArgv } from './argv.js';
import { VmStartError } from './errors.js';
import type { SnapshotCache } from './snapshot.js';
import type { QemuBinary } from '../qemu/catalog.js';
import { hasTransport } from '../qemu/transports.js';
import { MigtestError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import type { VmPaths, VmSpec } from './spec.js';

/** A VM's sockets in its private directory, and where its console goes. */
const vmPaths = (dir: string, serialLog: string): VmPaths => ({
  qmp: join(dir, 'qmp.sock'),
  fdMonitor: join(dir, 'qmp-fd.sock'),
  agent: join(dir, 'qga.sock'),
  heartbeat: join(dir, 'hb.sock'),
  serialLog,
});

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

/** Snapshot start: restore from `file`, or (after the first ready) save to the cache under `key`. */
export type SnapshotPlan = { restore: string } | { save: { key: string; cache: SnapshotCache } };

/** A snapshot could not be restored (the caller boots instead). */
export class SnapshotRestoreError extends VmStartError {}

/** A migration URI for a file: `file:` since 8.2; an older QEMU writes and reads it through cat. */
export const fileUri = (version: string, file: string, dir: 'out' | 'in') =>
  hasTransport('file', version) ? `file:${file}` : `exec:cat ${dir === 'out' ? '>' : '<'} ${shellQuote(file)}`;

/** A running QEMU with its monitor, heartbeat and (lazily) guest agent. */
export class StartedVm implements AsyncDisposable {
  private agentClient: GuestAgentClient | undefined;
  private droppedAgentReconnects = 0;
  private stopped: Promise<StoppedVm> | undefined;
  private snapshot: SnapshotPlan | undefined;
  startMode: StartMode = 'booted';
  /** Where it listens for an incoming migration (its host's migration address); loopback when unset. */
  listenAddress: string | undefined;

  private constructor(
    readonly name: string,
    readonly spec: VmSpec,
    readonly argv: readonly string[],
    readonly incoming: boolean,
    /** The QEMU it runs: a retry's destination or a pinned machine type starts from it. */
    readonly binary: QemuBinary,
    readonly process: HostProcess,
    readonly qmp: QmpClient,
    readonly heartbeat: HeartbeatStream | undefined,
    readonly paths: VmPaths,
    readonly artifacts: ArtifactDir,
    private readonly cleanupDir: () => Promise<void>,
    /** How its unix sockets are reached: directly, or through the host it runs on. */
    private readonly reach: (path: string) => SocketTarget = (p) => p,
    /** The host it runs on, when not this machine. */
    readonly host?: Host,
  ) {}

  static async launch(
    name: string,
    spec: VmSpec,
    opts: { incoming: boolean; artifacts: ArtifactDir; binary: QemuBinary; snapshot?: SnapshotPlan },
  ): Promise<StartedVm> {
    const restore = opts.snapshot && 'restore' in opts.snapshot ? opts.snapshot.restore : undefined;
    const dir = await privateDir(name);
    const art = opts.artifacts;
    const paths = vmPaths(dir.path, art.file(`${name}.serial.log`));
    // A restored VM starts as an incoming one and loads its guest from the snapshot file.
    const argv = buildArgv(spec, paths, { incoming: opts.incoming || !!restore });
    // In a namespace: `ip netns exec` execs QEMU in place, so the pid and group stay QEMU's.
    const [file, args] = spec.netns ? ['ip', ['netns', 'exec', spec.netns, spec.binary, ...argv]] : [spec.binary, argv];
    art.writeJson(`${name}.argv.json`, [file, ...args]);
    const stderrFile = art.file(`${name}.stderr.log`);
    const proc = GroupProcess.spawn(file, args, { name, stderrFile });
    const stderrTail = () => (existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '');
    try {
      await pollUntil(`${name}: QMP socket`, DEADLINES.connect, () => ({
        done: existsSync(paths.qmp) || !proc.running,
        state: proc.running ? 'no socket yet' : `exited ${JSON.stringify(proc.exit)}`,
      }));
      if (!proc.running) throw new VmStartError(`${name}: QEMU exited at start: ${stderrTail()}`, { artifacts: art.path });
      const qmp = await QmpClient.connect(paths.qmp, { vm: name, transcriptFile: art.file(`${name}.qmp.log`) });
      const hb = spec.heartbeat
        ? await HeartbeatStream.connect(paths.heartbeat, name, art.file(`${name}.heartbeat.log`))
        : undefined;
      const vm = new StartedVm(name, spec, [file, ...args], opts.incoming, opts.binary, proc, qmp, hb, paths, art, dir.cleanup);
      vm.snapshot = opts.snapshot;
      if (restore) await vm.restoreFrom(restore);
      return vm;
    } catch (e) {
      await proc.stop({ termMs: 2000 });
      await dir.cleanup();
      if (e instanceof VmStartError) throw e;
      throw new VmStartError(`${name}: start failed: ${(e as Error).message}\n${stderrTail()}`, { artifacts: art.path });
    }
  }

  /**
   * On another host (VmBuilder.onHost): the same start, through the host. Sockets and the
   * files QEMU writes live in a private directory there; stderr and the console are followed
   * into this machine's artifacts as they grow, so every check and failure reads them here.
   */
  static async launchOn(host: Host, name: string, spec: VmSpec, opts: { incoming: boolean; artifacts: ArtifactDir; binary: QemuBinary }): Promise<StartedVm> {
    const dir = await host.privateDir(name);
    const art = opts.artifacts;
    const there = vmPaths(dir.path, join(dir.path, `${name}.serial.log`));
    const stderrThere = join(dir.path, `${name}.stderr.log`);
    const argv = buildArgv(spec, there, { incoming: opts.incoming });
    art.writeJson(`${name}.argv.json`, [spec.binary, ...argv]);
    art.writeJson(`${name}.host.json`, { host: host.name, dir: dir.path });
    const followers: Array<{ stop(): Promise<void> }> = [];
    const reach = (p: string): SocketTarget => ({ path: `${host.name}:${p}`, open: () => host.connectUnix(p), link: host.link });
    let proc: HostProcess | undefined;
    const cleanup = async () => {
      for (const f of followers.splice(0)) await f.stop().catch(() => undefined);
      await dir.cleanup();
    };
    try {
      for (const [remote, local] of [[stderrThere, art.file(`${name}.stderr.log`)], [there.serialLog, art.file(`${name}.serial.log`)]] as const) {
        await host.writeFile(remote, '');
        followers.push(await host.follow(remote, local));
      }
      proc = await host.spawn([spec.binary, ...argv], { name, stderrFile: stderrThere });
      const qmp = await QmpClient.connect(reach(there.qmp), { vm: name, transcriptFile: art.file(`${name}.qmp.log`) });
      const hb = spec.heartbeat ? await HeartbeatStream.connect(reach(there.heartbeat), name, art.file(`${name}.heartbeat.log`)) : undefined;
      const here: VmPaths = { ...there, serialLog: art.file(`${name}.serial.log`) };
      return new StartedVm(name, spec, [spec.binary, ...argv], opts.incoming, opts.binary, proc, qmp, hb, here, art, cleanup, reach, host);
    } catch (e) {
      await proc?.stop({ termMs: 2000 }).catch(() => undefined);
      const said = existsSync(art.file(`${name}.stderr.log`)) ? readFileSync(art.file(`${name}.stderr.log`), 'utf8').trim().split('\n').slice(-5).join('\n') : '';
      await cleanup();
      throw new VmStartError(`${name}: start on host ${host.name} failed: ${(e as Error).message}\n${said}`, { artifacts: art.path });
    }
  }

  /** The guest agent; reconnects if the previous connection closed. */
  async agent(opts: Wait = {}): Promise<GuestAgentClient> {
    if (this.agentClient) return this.agentClient;
    const client = await GuestAgentClient.connect(this.reach(this.paths.agent), this.name, this.artifacts.file(`${this.name}.qga.log`), {
      ...opts,
      crashed: () => this.kernelCrash()?.line,
    });
    this.agentClient = client;
    return client;
  }

  /**
   * Loads a guest's state from a file (a VM started with -incoming defer): migrate-incoming,
   * then waits until QEMU has loaded it. Whether it then runs is the stream's and -S's say.
   */
  async loadStateFile(file: string, opts: Wait & { capabilities?: Record<string, boolean>; parameters?: Record<string, unknown> } = {}): Promise<void> {
    // A file written with mapped-ram (or multifd) is read only with the same capabilities.
    const caps = Object.entries(opts.capabilities ?? {}).map(([capability, state]) => ({ capability, state }));
    if (caps.length) await this.qmp.execute('migrate-set-capabilities', { capabilities: caps });
    if (opts.parameters && Object.keys(opts.parameters).length) await this.qmp.execute('migrate-set-parameters', opts.parameters);
    await this.qmp.execute('migrate-incoming', { uri: fileUri(this.qemuVersion, file, 'in') });
    await this.migrationDone(`loading ${file}`, deadline(opts, 'status'));
  }

  /**
   * Polls query-migrate until this VM's own migration (a save or a load, no events needed)
   * completed; failed throws with QEMU's error-desc, or its last stderr line.
   */
  private async migrationDone(what: string, timeoutMs: number): Promise<void> {
    await pollUntil(`${this.name}: ${what}`, timeoutMs, async () => {
      const i = await this.queryMigrate();
      if (i.status === 'failed') throw new MigtestError(`${this.name}: ${what} failed: ${i['error-desc'] ?? this.stderrErrors().at(-1)}`);
      return { done: i.status === 'completed', state: i.status };
    }, 20);
  }

  /** Loads a saved guest and runs it; a failure is a SnapshotRestoreError. */
  private async restoreFrom(file: string): Promise<void> {
    try {
      await this.loadStateFile(file);
      await this.qmp.execute('cont');
      this.startMode = 'restored';
      // As good as a booted guest before anyone gets it: beating, and its agent answering
      // (a snapshot saved at a bad moment can restore a virtio-serial that never talks again).
      await this.heartbeat?.waitForBeats(3, { timeoutMs: 15_000 });
      if (this.spec.agent) await (await this.agent({ timeoutMs: 15_000 })).ping();
    } catch (e) {
      await this.dropAgent().catch(() => undefined);
      throw new SnapshotRestoreError(`${this.name}: restoring ${file}: ${(e as Error).message}`, { artifacts: this.artifacts.path });
    }
  }

  /**
   * Saves the ready guest for later starts of the same configuration: a migration to a file,
   * then `cont`, so this VM runs on as if nothing happened. Migration parameters are left at
   * QEMU's defaults (a scenario may measure them); the events capability stays off, so no
   * MIGRATION event of the save reaches a scenario's event list.
   */
  private async saveSnapshot(key: string, cache: SnapshotCache): Promise<void> {
    const tmp = cache.temporary(key);
    try {
      await this.qmp.execute('migrate', { uri: fileUri(this.qemuVersion, tmp, 'out') });
      await this.migrationDone(`saving a snapshot to ${tmp}`, 60_000);
      await this.qmp.execute('cont');
      await this.waitRunState('running');
      cache.commit(tmp, key);
      this.startMode = 'booted+saved';
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Ready: the heartbeat is flowing and the agent answers. Waits on the guest, not on a sleep.
   * A booted guest also says READY; a restored one said it before it was saved.
   */
  async waitReady(opts: Wait = {}): Promise<void> {
    await this.waitGuest(opts);
    const plan = this.snapshot;
    this.snapshot = undefined;
    if (plan && 'save' in plan) {
      await this.saveSnapshot(plan.save.key, plan.save.cache);
      await this.waitGuest(opts);
    }
  }

  private async waitGuest(opts: Wait): Promise<void> {
    if (this.heartbeat && this.startMode === 'restored') await this.heartbeat.waitForBeats(3);
    else if (this.heartbeat) {
      await pollUntil(`${this.name}: guest READY on the heartbeat port (see ${this.paths.serialLog})`, deadline(opts, 'boot'), () => ({
        done: this.heartbeat!.readyAt !== undefined || !this.process.running,
        state: this.process.running ? this.serialTail() : `QEMU exited ${JSON.stringify(this.process.exit)}`,
      }));
      if (!this.process.running) throw new VmStartError(`${this.name}: QEMU exited while booting`, { artifacts: this.artifacts.path });
      await this.heartbeat.waitForBeats(3);
    }
    if (this.spec.agent) await (await this.agent()).ping();
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
  async waitNewListener(before: ReadonlySet<number>, what: string, opts: { timeoutMs: number; port?: number }): Promise<number[]> {
    return pollUntil(`${this.name}: ${what}`, opts.timeoutMs, async () => {
      const now = listening(await this.group());
      const fresh = opts.port ? now.filter((p) => p === opts.port) : now.filter((p) => !before.has(p));
      return { done: fresh.length > 0, value: fresh, state: { listening: now, before: [...before] } };
    });
  }

  /** The guest kernel's crash report on this VM's console, if it printed one. */
  kernelCrash(): KernelCrash | undefined {
    return existsSync(this.paths.serialLog) ? kernelCrash(readFileSync(this.paths.serialLog, 'utf8')) : undefined;
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
    const f = this.artifacts.file(`${this.name}.stderr.log`);
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /** Its stderr lines that are not QEMU's warnings (a newer QEMU deprecates options the harness still passes). */
  stderrErrors(): string[] {
    return this.stderrText().split('\n').filter((l) => l.trim() && !/^[\w./-]+: (.*: )?warning: /.test(l));
  }

  /** A crash on purpose: SIGKILL to the group, no quit, no flush. Resolves once it is gone. */
  async kill(): Promise<ExitInfo> {
    this.process.signal('SIGKILL');
    await this.process.waitExit(10_000);
    return this.process.exited;
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
    this.droppedAgentReconnects += this.agentClient?.reconnects ?? 0;
    await this.agentClient?.close();
    this.agentClient = undefined;
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
      const exit = await this.process.stop({
        graceful: stuck || this.qmp.closed ? undefined : () => this.qmp.execute('quit', undefined, { timeoutMs: 3000 }),
        graceMs: DEADLINES.teardownGrace,
        termMs: stuck ? 1000 : 5000,
      });
      this.heartbeat?.close();
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

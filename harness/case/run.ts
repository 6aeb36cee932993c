import { BridgeChain } from '../faults/bridge.js';
import { setupTls } from '../migration/tls.js';
import { RamWorkload } from '../guest/ramcheck.js';
import { assertSourceIntact, retryToFreshDestination } from '../migration/checks.js';
import { GuestLostError, MigrationFailedError } from '../migration/errors.js';
import { runHooks, startMigration, type MigrateOptions, type MigrationResult, type Side } from '../migration/migrate.js';
import {
  ConvergedInPrecopyError,
  marks,
  measureEpisode,
  mergeSettings,
  postcopyBlocktime,
  postcopySettings,
  recoverPostcopy,
  switchToPostcopy,
  unthrottlePostcopy,
  waitBothPaused,
} from '../migration/postcopy.js';
import { TERMINAL } from '../migration/stats.js';
import { injectAt } from '../migration/triggers.js';
import { lacksTransport } from '../qemu/transports.js';
import { verifyMigration } from '../migration/verify.js';
import { compareVersions } from '../qemu/catalog.js';
import { QmpCommandError } from '../qmp/errors.js';
import type { IoFigures, ScenarioResult } from '../report/results.js';
import { CheckFailedError, MigtestError, SkipError } from '../util/errors.js';
import { pollUntil } from '../util/time.js';
import { VmBuilder } from '../vm/builder.js';
import { VmStartError } from '../vm/errors.js';
import type { Scope } from '../vm/pool.js';
import type { StartedVm } from '../vm/started.js';
import { checkOutcome, outcomeLabel } from './expect.js';
import { CaseStorage, type IoReport } from './storage.js';
import type { CaseReport, CaseRun, Episode, Expectation, MigrationCase, MigrationSpec, Outcome, SideSetup } from './model.js';

/** The RAM workload most cases want: 32 MiB dirtied at 16 MiB/s. */
export const DEFAULT_WORKLOAD = { mib: 32, rateMiBs: 16 };
/** Postcopy: the guest dirties 64 MiB as fast as it can, so every page it touches may be missing. */
export const POSTCOPY_WORKLOAD = { mib: 64, rateMiBs: 0 };
/** 4 MiB/s keeps postcopy active for several seconds: long enough to be hit by a fault. */
export const POSTCOPY_THROTTLE = 4 << 20;
/** A retry goes at QEMU's default speed limit, whatever throttled the attempt before it. */
const RETRY_SPEED = { 'max-bandwidth': 134_217_728 };

/** A case's outcome did not match its expectation; `row` keeps what it measured for results.json. */
export class CaseError extends CheckFailedError {}

/** Applies one side's setup to a builder. */
export function applySide(b: VmBuilder, s: SideSetup): VmBuilder {
  if (s.binary) b.withBinary(s.binary);
  else if (s.qemu) b.withQemu(s.qemu);
  if (s.machine) b.withMachine(s.machine);
  if (s.cpu) b.withCpu(s.cpu);
  if (s.memoryMiB) b.withMemory(s.memoryMiB);
  for (const d of s.devices ?? []) b.withDevice(d);
  if (s.args?.length) b.withArgs(...s.args);
  return s.configure ? s.configure(b) : b;
}

/** The destination's setup: the source's, with what the destination sets instead. */
export function destinationSetup(c: Pick<MigrationCase, 'source' | 'destination'>): SideSetup {
  const s = c.source ?? {};
  const d = c.destination ?? {};
  const configure = s.configure && d.configure ? (b: VmBuilder) => d.configure!(s.configure!(b)) : (d.configure ?? s.configure);
  // A version named for the destination beats a binary the source was given.
  const binary = d.binary ?? (d.qemu ? undefined : s.binary);
  return { ...s, ...d, binary, devices: d.devices ?? s.devices, args: d.args ?? s.args, configure };
}

class Run implements CaseRun {
  m?: CaseRun['m'];
  constructor(
    readonly scope: Scope,
    readonly c: MigrationCase,
    readonly src: StartedVm,
    readonly dst: StartedVm,
    readonly ram: RamWorkload | undefined,
    readonly bridges: BridgeChain | undefined,
    readonly versions: { src: string; dst: string },
    readonly storage: CaseStorage | undefined,
  ) {}
  get case(): MigrationCase {
    return this.c;
  }
  vm(side: Side): StartedVm {
    return side === 'source' ? this.src : this.dst;
  }
}

const modeOf = (c: MigrationCase) => c.migration?.mode ?? 'precopy';
const expectationOf = (c: MigrationCase): Expectation => c.expect ?? { kind: 'migrates' };

/** The MigrateOptions a spec stands for: postcopy settings merged (never dropped), hooks wired to the run. */
function migrateOptions(run: Run, spec: MigrationSpec, expect: Expectation): MigrateOptions {
  const mode = spec.mode ?? 'precopy';
  const post = mode === 'precopy' ? undefined : postcopySettings({ bandwidth: POSTCOPY_THROTTLE, ...spec.postcopy });
  const keep = spec.keepDestinationOnError === 'auto' ? compareVersions(run.dst.qemuVersion, '9.1') >= 0 : !!spec.keepDestinationOnError;
  const hook = run.c.hooks?.beforeSwitchover;
  // The storage's (a mirror to complete) first, then the case's.
  const before = [run.storage?.beforeSwitchover, hook && (() => hook(run))].filter((f) => !!f);
  return {
    ...spec,
    ...mergeSettings(post, spec),
    // Across two hosts the destination listens on its migration address, not loopback.
    listenHost: spec.listenHost ?? run.dst.listenAddress,
    keepDestinationOnError: keep,
    route: run.bridges?.route,
    expect: expect.kind === 'fails' ? expect.status : 'completed',
    // startMigration turns on pause-before-switchover for it; runHooks calls it there.
    beforeSwitchover: before.length
      ? async () => {
          for (const f of before) await f();
        }
      : undefined,
  };
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/**
 * Why the destination refused, in QEMU's words: the specific reason is only on its stderr
 * (error_report); with exit-on-error false (9.1+) query-migrate adds the generic
 * error-desc ("load of migration failed: ..."). Both, stderr first.
 */
async function destinationWords(dst: StartedVm, kept: boolean): Promise<string> {
  return pollUntil(`${dst.name}: its reason for failing the incoming migration`, 30_000, async () => {
    const desc = kept && dst.process.running ? (await dst.queryMigrate().catch(() => undefined))?.['error-desc'] : undefined;
    const lines = dst.stderrErrors().filter((l) => !l.includes(desc ?? '\0'));
    // A destination that aborted (an assertion) says nothing more: its stderr is all there is.
    const done = lines.length > 0 && ((kept && desc !== undefined) || !dst.process.running);
    return { done, value: [...lines.map((l) => l.replace(/^qemu-system-\w+: /, '')), ...(desc ? [desc] : [])].join(' | '), state: { desc, lines } };
  }, 100);
}

interface StartedPair {
  src: StartedVm;
  dst?: StartedVm;
  dstError?: VmStartError;
  versions: { src: string; dst: string };
  storage?: CaseStorage;
}

/** Starts the pair; a destination that cannot start is an outcome, not an error. */
async function startPair(scope: Scope, c: MigrationCase): Promise<StartedPair> {
  const srcB = applySide(new VmBuilder('src', c.arch), c.source ?? {});
  const dstB = applySide(new VmBuilder('dst', c.arch), destinationSetup(c)).withIncoming();
  const [sb, db] = await Promise.all([srcB.resolveBinary(), dstB.resolveBinary()]);
  const versions = { src: sb.version, dst: db.version };
  scope.artifacts.writeJson('case.json', { case: c, versions, binaries: { src: sb.path, dst: db.path } });
  // A side's QEMU too old for the transport (a per-side choice can make it so): a skip naming it.
  const transport = c.migration?.transport ?? 'tcp';
  const lacks = lacksTransport(transport, sb.version, 'source') ?? lacksTransport(transport, db.version, 'destination');
  if (lacks) throw new SkipError(lacks);
  // Across two hosts (MIGTEST_HOSTS): each side on its host; tcp and exec (socat over tcp) cross between them.
  const hosts = await scope.runHosts(c.hosts);
  if (hosts) {
    if (transport !== 'tcp' && transport !== 'exec')
      throw new SkipError(`transport ${transport} needs both sides on one host (${transport === 'fd' ? 'one socketpair between the two QEMUs' : transport === 'unix' ? 'a unix socket only its host sees' : "a file the destination's host reads"}); this run has two (${hosts.file.file})`);
  }
  srcB.onRunHost(hosts, 'src');
  dstB.onRunHost(hosts, 'dst');
  // The data disk's images, each made on the host whose QEMU opens it.
  const storage = c.storage ? await CaseStorage.place(scope, c.storage, hosts) : undefined;
  if (storage) (storage.configureSrc(srcB), storage.configureDst(dstB));
  const src = await scope.vms.start(srcB);
  await dstB.withMachineOf(src);
  const [dst] = await Promise.all([
    scope.vms.start(dstB).catch((e: unknown) => {
      if (e instanceof VmStartError) return e;
      throw e;
    }),
    src.waitReady(),
  ]);
  return dst instanceof VmStartError ? { src, dstError: dst, versions, storage } : { src, dst, versions, storage };
}

/**
 * Everything up to a migration under way: the pair, the workload, the start hook, the
 * migration started (and in postcopy modes switched to postcopy). For scenarios that go on
 * step by step; runCase() does the rest declaratively.
 */
export async function beginCase(scope: Scope, c: MigrationCase): Promise<CaseRun> {
  const e = expectationOf(c);
  if (e.kind === 'skip') throw new SkipError(e.reason);
  const pair = await startPair(scope, c);
  if (!pair.dst) throw pair.dstError!;
  const run = await prepareRun(scope, c, pair);
  await startRunMigration(run);
  return run;
}

/**
 * The workload, the bridges and the start hook. A destination that never started stands
 * in as `dst` only so the source's checks can run; nothing migrates then.
 */
async function prepareRun(scope: Scope, c: MigrationCase, { src, dst, versions, storage }: StartedPair): Promise<Run> {
  const mode = modeOf(c);
  const workload = c.workload === false ? undefined : (c.workload ?? (mode === 'precopy' ? DEFAULT_WORKLOAD : POSTCOPY_WORKLOAD));
  const ram = workload ? await RamWorkload.start(src, workload) : undefined;
  const bridged = c.migration?.bridged ?? mode === 'recovery';
  const run = new Run(scope, c, src, dst ?? src, ram, bridged ? scope.track(new BridgeChain(scope.artifacts, src.host)) : undefined, versions, storage);
  if (dst) await storage?.start(src, dst);
  if (dst) await c.hooks?.start?.(run);
  return run;
}

/** Starts the migration (and in postcopy modes switches to postcopy). */
async function startRunMigration(run: Run): Promise<void> {
  const { c, src, dst } = run;
  const mode = modeOf(c);
  const opts = migrateOptions(run, c.migration ?? {}, expectationOf(c));
  if (c.migration?.tls) await setupTls(run.scope, src, dst, c.migration.tls, opts.listenHost ?? '127.0.0.1');
  run.m = await startMigration(src, dst, opts);
  if (c.hooks?.onActive) {
    await run.m.waitStatus((s) => s === 'active' || TERMINAL.has(s), { what: 'to become active' });
    await c.hooks.onActive(run);
  }
  if (mode !== 'precopy') {
    await c.hooks?.beforePostcopy?.(run);
    await switchToPostcopy(run.m, c.migration?.postcopy?.switchAfter);
    await c.hooks?.inPostcopy?.(run);
  }
}

/** Fires the faults at their triggers; in recovery mode each one is a failure the harness recovers. */
async function fireFaults(run: Run, report: CaseReport): Promise<void> {
  const { episodes } = report;
  const m = run.m!;
  for (const f of run.c.faults ?? []) {
    const since = marks(m);
    const { record } = await injectAt(m, f.at, f.name, () => f.fire(run), { timeoutMs: f.timeoutMs });
    report.faults.push(record);
    if (modeOf(run.c) !== 'recovery') continue;
    const pausedAt = await waitBothPaused(m, { since });
    await f.whilePaused?.(run);
    const rec = await recoverPostcopy(m, { ...run.c.migration?.recover, listenHost: run.c.migration?.recover?.listenHost ?? run.c.migration?.listenHost, route: run.bridges?.route });
    const ep: Episode = { fault: f.name, uri: rec.uri, faultAt: record.at, pausedAt, recoveredAt: rec.at };
    episodes.push({ ...ep, figures: await measureEpisode(run.dst, ep.faultAt, ep.pausedAt, ep.recoveredAt, episodes.length + 1) });
  }
}

/** Turns what the migration ended with into an outcome; anything else is a harness or QEMU error and propagates. */
async function outcomeOfError(run: Run, e: unknown): Promise<Outcome> {
  if (e instanceof QmpCommandError && (e.command === 'migrate-set-capabilities' || e.command === 'migrate-set-parameters'))
    return { kind: 'refused', side: e.vm === run.dst.name ? 'destination' : 'source', stage: 'settings', error: e.desc };
  if (e instanceof GuestLostError) return { kind: 'guest-lost', side: e.context.side as Side, error: e.message };
  if (e instanceof MigrationFailedError) {
    const status = (e.context.status as 'failed' | 'cancelled' | undefined) ?? 'failed';
    // Without faults, a failed stream is the destination refusing it: its own words say why.
    if (status === 'failed' && !run.c.faults?.length && expectationOf(run.c).kind !== 'fails')
      return { kind: 'refused', side: 'destination', stage: 'stream', error: await destinationWords(run.dst, !!run.m?.opts.keepDestinationOnError) };
    return { kind: 'failed', status, error: (e.context.info as { 'error-desc'?: string } | undefined)?.['error-desc'] };
  }
  throw e;
}

/** Completes a migration under way: lifts a postcopy throttle, waits for the end, verifies liveness, RAM and postcopy figures. */
async function complete(run: Run, report: CaseReport): Promise<Outcome> {
  const m = run.m!;
  if (modeOf(run.c) !== 'precopy' && m.src.process.running && !TERMINAL.has(m.sampler.last?.status ?? 'none')) await unthrottlePostcopy(m).catch(() => undefined);
  const result: MigrationResult = await m.finish();
  report.migration = result;
  if (result.status !== 'completed') return { kind: 'failed', status: result.status as 'failed' | 'cancelled', error: result.info['error-desc'] };
  try {
    const v = await verifyMigration(run, result);
    Object.assign(report.figures, v.figures);
    report.liveness = v.liveness;
    report.destinationRunState = (await run.dst.status()).status;
    if (run.ram && report.destinationRunState === 'running') report.ram = await run.ram.check(run.dst);
    if (run.storage && report.destinationRunState === 'running') report.io = await run.storage.check(run.src, run.dst);
  } catch (e) {
    // A guest kernel that oopsed on the destination takes its agent with it: what failed
    // then is the guest, whatever check noticed first, and its console says how.
    const crash = run.dst.kernelCrash();
    if (!(e instanceof CheckFailedError) && !crash) throw e;
    if (e instanceof CheckFailedError) Object.assign(report.figures, (e.context.figures as object | undefined) ?? {});
    // Evidence for a guest that died after a "successful" migration: where its vCPU is.
    const regs = await run.dst.qmp.hmp('info registers', { timeoutMs: 10_000 }).catch((err: Error) => err.message);
    run.scope.artifacts.writeJson('dst.registers.json', { 'info registers': regs.split('\n'), ...(crash ? { console: crash.excerpt } : {}) });
    return { kind: 'guest-died', error: crash ? `the guest kernel crashed on the destination: ${crash.excerpt.slice(0, 3).join(' | ')} (then: ${firstLine(e)})` : firstLine(e) };
  }
  if (modeOf(run.c) !== 'precopy') report.figures.postcopyBlocktimeMs = (await postcopyBlocktime(run.dst)).blocktimeMs;
  return { kind: 'migrated' };
}

/** The I/O check as a row's figures. */
function ioFigures(io: IoReport): IoFigures {
  const m = io.mirror;
  return {
    writes: io.writes,
    verifiedBytes: io.verifiedBytes,
    srcWrites: io.srcWrites,
    dstWrites: io.dstWrites,
    ...(m ? { mirrorSync: m.sync, mirrorBytes: m.completed.offset, mirrorCompleteMs: m.completed.tookMs } : {}),
  };
}

/** Reconnects of the harness's control channel, so a row shows where the agent stalled. */
function agentReconnects(run: CaseReport['run'] | undefined): { agentReconnects?: Record<string, number> } {
  const vms = run ? [run.src, run.dst].filter((vm) => vm.agentReconnects > 0) : [];
  return vms.length ? { agentReconnects: Object.fromEntries(vms.map((vm) => [vm.name, vm.agentReconnects])) } : {};
}

/** The row a case gives results.json: figures, verdict, recovery, and what happened. */
export function caseRow(report: Partial<CaseReport> & { outcome?: Outcome }): Partial<ScenarioResult> {
  const last = report.episodes?.at(-1);
  return {
    ...report.figures,
    ...(report.verdict ? { verdict: report.verdict } : {}),
    ...(last ? { recovery: last.figures } : {}),
    extra: {
      ...(report.run ? { case: report.run.case.id, qemu: `${report.run.versions.src}->${report.run.versions.dst}` } : {}),
      ...(report.outcome ? { outcome: outcomeLabel(report.outcome), error: 'error' in report.outcome ? report.outcome.error : undefined } : {}),
      ...(report.outcome && 'side' in report.outcome ? { side: report.outcome.side } : {}),
      ...(report.retry ? { retry: report.retry } : {}),
      ...(report.episodes && report.episodes.length > 1 ? { episodes: report.episodes.map((e) => e.figures) } : {}),
      ...(report.ram ? { ramPages: report.ram.pages, ramPasses: report.ram.passes } : {}),
      ...agentReconnects(report.run),
    },
    ...(report.io ? { io: ioFigures(report.io) } : {}),
  };
}

/**
 * Finishes a case begun with beginCase(): faults, completion, the check of the outcome
 * against the expectation, and after a failure the source's health and a retry.
 */
export async function finishCase(r: CaseRun): Promise<CaseReport> {
  const run = r as Run;
  const report = newReport(run, { kind: 'migrated' });
  try {
    report.outcome = await fireFaults(run, report)
      .then(() => runHooks(run.m!, { beforeSwitchover: run.m!.opts.beforeSwitchover }))
      .then(() => complete(run, report))
      .catch((e: unknown) => outcomeOfError(run, e));
  } catch (e) {
    throw withRow(e, report);
  }
  return settle(run, report);
}

/** Checks the outcome, then the source and the retry after a failure, then the end hook. */
async function settle(run: Run, report: CaseReport): Promise<CaseReport> {
  const c = run.c;
  try {
    const v = checkOutcome(expectationOf(c), report.outcome);
    report.verdict = v.verdict;
    if (!v.ok) throw new CaseError(`${c.id}: ${v.message}`);
    const o = report.outcome;
    if (o.kind === 'failed' || o.kind === 'refused' || o.kind === 'dst-start-failed') {
      await assertSourceIntact(run.src, run.ram);
      // A fresh destination would need the data disk again: cases with storage do not retry.
      const wantRetry = !run.storage && (c.retry ?? (o.kind === 'failed' || (o.kind === 'refused' && o.stage === 'stream')));
      if (wantRetry && run.ram) {
        await c.hooks?.beforeRetry?.(run);
        const spec = typeof c.retry === 'object' ? c.retry : {};
        const setup = spec.destination ?? c.source ?? {};
        const { keepDestinationOnError: _keep, ...migration } = spec.migration ?? {};
        // Across two hosts the fresh destination is on the destination's host too.
        const hosts = await run.scope.runHosts(c.hosts);
        const retry = await retryToFreshDestination(run.scope.vms, run.src, run.ram, {
          ...migration,
          parameters: { ...RETRY_SPEED, ...migration.parameters },
          listenHost: migration.listenHost ?? hosts?.file.hosts.dst.migrationAddress,
          // retryToFreshDestination pins the source's QEMU version; the setup may name a binary instead.
          configure: (b) => applySide(b, setup).onRunHost(hosts, 'dst'),
        });
        report.retry = retry.figures;
      }
    }
    await c.hooks?.end?.(run, report);
    return report;
  } catch (e) {
    throw withRow(e, report);
  }
}

/** A report with nothing measured yet. */
function newReport(run: Run, outcome: Outcome): CaseReport {
  return { outcome, verdict: '', run, figures: {}, episodes: [], faults: [] };
}

/** Attaches what the case measured to an error, so the failed row keeps it. */
function withRow(e: unknown, report: Partial<CaseReport>): unknown {
  if (e instanceof MigtestError) Object.assign(e.context, { row: caseRow(report) });
  return e;
}

/**
 * The whole case: start, migrate (its mode's driver), faults at their triggers, verify,
 * check the outcome against the expectation, the source's health and a retry after a
 * failure. Returns the report; the scenario records it.
 */
export async function runCase(scope: Scope, c: MigrationCase): Promise<CaseReport> {
  const e = expectationOf(c);
  if (e.kind === 'skip') throw new SkipError(e.reason);
  const pair = await startPair(scope, c);
  const run = await prepareRun(scope, c, pair);
  if (!pair.dst) return settle(run, newReport(run, { kind: 'dst-start-failed', error: firstLine(pair.dstError) }));
  try {
    await startRunMigration(run);
  } catch (err) {
    if (err instanceof ConvergedInPrecopyError) throw err;
    // Settings a side refused are an outcome: QEMU said no before anything was sent.
    return settle(run, newReport(run, await outcomeOfError(run, err)));
  }
  return finishCase(run);
}

import { knownFlake } from './known-flakes.js';
import { assertSourceIntact, retryToFreshDestination } from '../migration/checks.js';
import { verifyMigration, WrongRunStateError } from '../migration/verify.js';
import { injectAt } from '../migration/triggers.js';
import { CheckFailedError, MigtestError } from '../util/errors.js';
import { DEADLINES, deadline } from '../util/deadlines.js';
import { checkOutcome } from './expect.js';
import type { Migrating, RunState } from './lifecycle.js';
import type { CaseReport, MigratingRun, MigrationCase, MigrationSpec, Outcome, PairRun } from './model.js';
import { driverFor } from './drivers/index.js';
import { mergeSettings } from '../migration/postcopy.js';
import { outcomeOf } from './outcome.js';
import { applySide } from './pair.js';
import { caseRow } from './row.js';
import { NbdMirror, ROOT_MIRROR } from '../storage/nbd-mirror.js';
import { sideDir } from './storage.js';

/** A retry goes at QEMU's default speed limit, whatever throttled the attempt before it. */
const RETRY_SPEED = { 'max-bandwidth': 134_217_728 };

/** A case's outcome did not match its expectation; `row` keeps what it measured for results.json. */
export class CaseError extends CheckFailedError {}

/** The outcome is a known flake (case/known-flakes.ts): the scenario gives the case a second attempt. */
export class KnownFlakeError extends CaseError {}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/** A report being filled in: no outcome until one is decided (never a placeholder). */
export type DraftReport = Omit<CaseReport, 'outcome'> & { outcome?: Outcome };

export function newReport(run: PairRun): DraftReport {
  return { verdict: '', run, figures: {}, episodes: [], faults: [] };
}

/** Attaches what the case measured to an error, so the failed row keeps it (and says no outcome was decided). */
export function withRow(e: unknown, report: DraftReport): unknown {
  if (e instanceof MigtestError) Object.assign(e.context, { row: caseRow(report) });
  return e;
}

/** Fires each fault at its trigger; the mode's driver follows each up (a recovery). */
async function fireFaults(run: Migrating, report: DraftReport): Promise<void> {
  const faults = run.case.faults ?? [];
  for (let i = 0; i < faults.length; i++) {
    const f = faults[i]!;
    if (f.at === 'recovery-handshake') continue; // the driver fires it, inside the previous fault's recovery
    const { record } = await injectAt(run.m, f.at, f.name, () => f.fire(run), { timeoutMs: f.timeoutMs });
    report.faults.push(record);
    const next = faults[i + 1]?.at === 'recovery-handshake' ? faults[i + 1] : undefined;
    await run.driver.faulted(run, f, record, report as CaseReport, next);
  }
}

/** Faults healed before a retry or the end (a partition, a hanging connect). */
async function heal(run: Migrating): Promise<void> {
  for (const f of run.case.faults ?? []) await f.heal?.(run);
}

/**
 * Completes a migration under way: the mode lifts its throttle, the end is awaited, the
 * destination verified (run states, liveness, RAM, the data disk), the mode's own figures.
 */
async function complete(run: Migrating, report: DraftReport): Promise<Outcome> {
  await run.driver.finishing(run);
  // A hanging connect: the case's cancel has fired; let the connect end so the source can say so.
  if (run.connect) await run.connect.heal(run.src);
  const result = await run.m.finish();
  report.migration = result;
  if (result.status !== 'completed') return { kind: 'failed', status: result.status as 'failed' | 'cancelled', error: result.info['error-desc'] };
  // The destination runs on its own disk: it stops serving it (libvirt's Finish). A destination
  // that died meanwhile is for the checks below to say, not this cleanup.
  await run.parts.rootMirror?.stopServer().catch(() => undefined);
  await run.case.hooks?.completed?.(run);
  try {
    // A guest expected to die is given the deadline of a wait expected to fail, and asked for
    // 10 beats rather than 30: a live guest gives them well within it (from the agent too), a
    // dead one never; waiting out the full deadline proves nothing more.
    const v = await verifyMigration(run, result, run.expectation.kind === 'guest-dies' ? { liveness: { timeoutMs: DEADLINES.expectedToFail, beats: 10 } } : {});
    Object.assign(report.figures, v.figures);
    report.liveness = v.liveness;
    report.destinationRunState = (await run.dst.status()).status;
    if (run.ram && report.destinationRunState === 'running') report.ram = await run.ram.check(run.dst);
    if (run.storage && report.destinationRunState === 'running') report.io = await run.storage.check(run.src, run.dst);
  } catch (e) {
    if (e instanceof WrongRunStateError) {
      Object.assign(report.figures, (e.context.figures as object | undefined) ?? {});
      throw e;
    }
    // A guest kernel that oopsed on the destination takes its agent with it: what failed
    // then is the guest, whatever check noticed first, and its console says how.
    const crash = run.dst.kernelCrash();
    if (!(e instanceof CheckFailedError) && !crash) throw e;
    if (e instanceof CheckFailedError) Object.assign(report.figures, (e.context.figures as object | undefined) ?? {});
    // Evidence for a guest that died after a "successful" migration: where its vCPU is.
    const regs = await run.dst.qmp.hmp('info registers', { timeoutMs: deadline(undefined, 'hmp') }).catch((err: Error) => err.message);
    run.scope.artifacts.writeJson('dst.registers.json', { 'info registers': regs.split('\n'), ...(crash ? { console: crash.excerpt } : {}) });
    return { kind: 'guest-died', error: crash ? `the guest kernel crashed on the destination: ${crash.excerpt.slice(0, 3).join(' | ')} (then: ${firstLine(e)})` : firstLine(e) };
  }
  await run.driver.completed(run, report as CaseReport);
  return { kind: 'migrated' };
}

/** Who a fault killed on purpose: their deaths are no crash. */
const killedOnPurpose = (run: MigratingRun, report: DraftReport) =>
  new Set(report.faults.filter((f) => /^SIGKILL /.test(f.fault)).map((f) => (f.fault.endsWith('source') ? run.src.name : run.dst.name)));

/**
 * Finishes a migrating run: faults at their triggers, completion, the outcome decided from
 * what both sides reported, checked against the expectation; after a failure the source's
 * health and a retry.
 */
export async function finishRun(run: Migrating): Promise<CaseReport> {
  const report = newReport(run);
  const e = run.expectation;
  const expectsFailure = e.kind === 'fails' || (e.kind === 'xfail' && e.expect.kind === 'fails');
  try {
    report.outcome = await fireFaults(run, report)
      .then(() => run.runSwitchoverHooks())
      .then(() => complete(run, report))
      .catch((err: unknown) => outcomeOf(run, err, { faults: report.faults.length, expectsFailure, killed: killedOnPurpose(run, report) }));
  } catch (err) {
    throw withRow(err, report);
  }
  return settle(run, report as CaseReport);
}

/** A retry of the case's own migration: its mode's and its own capabilities and parameters, postcopy unthrottled. */
function retryOf(c: MigrationCase): MigrationSpec {
  const spec = c.migration ?? {};
  const s = mergeSettings(driverFor(spec.mode).settings(spec), spec);
  const postcopy = spec.mode === 'postcopy' || spec.mode === 'recovery';
  // A CPR mode's retry is a normal migration to a plain fresh destination (no new QEMU to exec or hand descriptors to).
  const { 'cpr-exec-command': _command, ...parameters } = s.parameters ?? {};
  const cpr = spec.mode === 'cpr-transfer' || spec.mode === 'cpr-exec' ? { mode: 'normal' } : {};
  return { mode: postcopy ? 'postcopy' : 'precopy', transport: spec.transport, capabilities: s.capabilities, parameters: { ...parameters, ...cpr, ...RETRY_SPEED, ...(postcopy ? { 'max-postcopy-bandwidth': 0 } : {}) } };
}

/** Checks the outcome, then the source (and a retry) after a failure, a lost guest's source when asked, then the end hook. */
export async function settle(run: RunState, report: CaseReport): Promise<CaseReport> {
  const c = run.case;
  try {
    const v = checkOutcome(run.expectation, report.outcome, run.versions);
    report.verdict = v.verdict;
    if (!v.ok) {
      const flake = knownFlake(report.outcome, { arch: c.arch, accel: run.src.spec.accel, mode: c.migration?.mode, versions: run.versions }, c.knownFlakes);
      if (flake) throw new KnownFlakeError(`${c.id}: ${v.message} (known flake ${flake.id}: ${flake.why})`, { flake: flake.id });
      throw new CaseError(`${c.id}: ${v.message}`);
    }
    const o = report.outcome;
    if (o.kind === 'lost' && c.resumeSourceWhenLost) {
      // What libvirt does when Finish fails: resume the source (Confirm with failure).
      await run.src.qmp.execute('cont');
      await assertSourceIntact(run.src, run.ram);
      o.sourceResumed = true;
      report.verdict += '; `cont` on the source resumed the guest there, RAM intact';
    }
    if (o.kind === 'failed' || o.kind === 'refused' || o.kind === 'dst-start-failed') {
      await assertSourceIntact(run.src, run.ram);
      // A fresh destination would need the data disk again: cases with storage do not retry.
      const wantRetry = !run.storage && (c.retry ?? (o.kind === 'failed' || (o.kind === 'refused' && o.stage === 'stream')));
      if (wantRetry && run.ram) {
        if ('m' in run) await heal(run as Migrating);
        await c.hooks?.beforeRetry?.(run);
        const spec = typeof c.retry === 'object' ? c.retry : {};
        const setup = spec.destination ?? c.source ?? {};
        // The same migration again (its capabilities stay set on the source; the fresh
        // destination must agree), at QEMU's default speed, unless the case says another.
        const { keepDestinationOnError: _keep, ...migration } = spec.migration ?? retryOf(c);
        // Across two hosts the fresh destination is on the destination's host too.
        const hosts = await run.scope.runHosts(c.hosts);
        const { mode, ...rest } = migration;
        // A user's image across two hosts: the fresh destination gets an overlay of its own,
        // and the source's disk is mirrored into it again (the first mirror abandoned).
        const mirrors = !!run.parts.mirrorsRoot;
        await run.parts.rootMirror?.abandon();
        let again: NbdMirror | undefined;
        const retry = await retryToFreshDestination(run.scope.vms, run.src, run.ram, {
          ...rest,
          postcopy: mode === 'postcopy' || mode === 'recovery',
          parameters: { ...RETRY_SPEED, ...rest.parameters },
          listenHost: rest.listenHost ?? run.listenHost ?? hosts?.file.hosts.dst.migrationAddress,
          // retryToFreshDestination pins the source's QEMU version; the setup may name a binary instead.
          configure: async (b) => {
            const d = run.placeDestination(applySide(b, setup).onRunHost(hosts, 'dst'));
            if (mirrors) await d.withOwnRootOverlay(await sideDir(run.scope, d.host));
            return d;
          },
          withDestination: mirrors
            ? async (dst) => {
                again = await NbdMirror.start(run.src, dst, ROOT_MIRROR);
                return { beforeSwitchover: async () => void (await again!.complete()) };
              }
            : undefined,
        });
        await again?.stopServer().catch(() => undefined);
        report.retry = retry.figures;
      }
    }
    await c.hooks?.end?.(run, report);
    return report;
  } catch (e) {
    throw withRow(e, report);
  }
}

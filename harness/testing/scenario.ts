import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { join } from 'node:path';
import { test } from 'vitest';
import { runCase } from '../case/run.js';
import { KnownFlakeError } from '../case/finish.js';
import { progress } from '../util/log.js';
import { caseRow } from '../case/row.js';
import type { CaseReport, MigrationCase } from '../case/model.js';
import { runConfig } from '../util/run-config.js';
import { ArtifactDir } from '../report/artifacts.js';
import { recordResult, type ScenarioResult } from '../report/results.js';
import { deadline, scale } from '../util/deadlines.js';
import { CheckFailedError, MigtestError, SkipError } from '../util/errors.js';
import { versionMatches } from '../qemu/catalog.js';
import type { Accel } from '../util/arch.js';
import { Scope } from '../vm/pool.js';
import { procStat } from '../host/procfs.js';

export type { Stoppable } from '../vm/pool.js';

type Row = Partial<ScenarioResult>;

/** Merges figures into a row; `extra` is merged, not replaced, so nothing recorded earlier is lost. */
export function mergeRow(into: Row, more: Row): void {
  const extra = more.extra ? { ...into.extra, ...more.extra } : into.extra;
  Object.assign(into, more);
  if (extra) into.extra = extra;
}

/**
 * What a scenario's body gets: a Scope (artifacts, VMs, things to stop) to pass to the
 * library, plus record() for its row of results.json and skip() for what the host lacks.
 */
export class ScenarioContext extends Scope {
  /** @internal the row scenario() writes; only record() adds to it. */
  readonly row: Row = {};

  /** Adds figures to this scenario's row (kept even if the scenario fails later). */
  record(row: Row): void {
    mergeRow(this.row, row);
  }

  /**
   * A path in a fresh private directory under /tmp, removed when the scenario ends: for big
   * files (a saved stream) that do not belong in the artifacts.
   */
  scratchFile(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'migtest-scratch-'));
    this.track({ stop: async () => rmSync(dir, { recursive: true, force: true }) });
    return join(dir, name);
  }

  /**
   * A known failure on some QEMU versions: `check` asserts what QEMU should do. Where
   * `version` is one of `versions` it must fail (the row says xfail and why); where it then
   * passes, the scenario fails saying the known failure is gone (remove the xfail). A known
   * failure of one accelerator (`known.accel`) applies only where `at.accel` is that one. A
   * failure that does not say `known.failure`'s words is another failure: it stays red.
   */
  async xfail(known: { versions: string[]; reason: string; accel?: Accel; failure: RegExp }, at: string | { version: string; accel: Accel }, check: () => Promise<void>): Promise<void> {
    const { version, accel } = typeof at === 'string' ? { version: at, accel: undefined } : at;
    const applies = known.versions.some((v) => versionMatches(version, v)) && (!known.accel || !accel || known.accel === accel);
    if (!applies) return check();
    const err = await check().then(() => undefined, (e: unknown) => e);
    // A skip says the host lacks something: that proves nothing either way, so it stays a skip.
    if (err instanceof SkipError) throw err;
    if (!err) throw new CheckFailedError(`a known failure is gone: QEMU ${version} now does what it should; remove its xfail (${known.reason})`);
    const said = err instanceof Error ? err.message : String(err);
    if (!known.failure.test(said)) throw new CheckFailedError(`${said}\n(a known failure applies to QEMU ${version}, but this is another one: the known one says ${known.failure}; ${known.reason})`, { cause: err });
    this.record({ verdict: `xfail on QEMU ${version} (${known.reason}): ${said.split('\n')[0]}` });
  }

  /** The host lacks something; the reason must name it. */
  skip(reason: string): never {
    throw new SkipError(reason);
  }
}

export interface ScenarioMeta {
  suite: string;
  arch?: string;
  /**
   * Runs across two hosts (migtest run --hosts); other scenarios skip there, saying so.
   * Default: on for a declarative case (caseScenario: the case layer places each side on its
   * host), off for a hand-written scenario.
   */
  twoHosts?: boolean;
  /** Why it needs one host (its skip reason in a two-host run). */
  oneHost?: string;
  /** Unscaled; default DEADLINES.scenario. */
  timeoutMs?: number;
}

/** Disk images and saved streams, what makes a scenario's artifacts large. */
const BULK = /\.(qcow2|raw|img|mig)$/;

function dropBulk(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) dropBulk(p);
    else if (BULK.test(e.name)) rmSync(p, { force: true });
  }
}

/**
 * The test worker's own CPU and its exited children's. Scenarios of one worker run one after
 * another, and every process a scenario starts has exited when its scope has closed, so the
 * difference across a scenario is its own.
 */
function workerCpu(): { selfMs: number; childrenMs: number } | undefined {
  // A worker thread would count its sibling files' CPU too (the e2e project runs forks).
  if (!isMainThread) return undefined;
  const st = procStat(process.pid);
  if (!st) return undefined;
  const own = process.cpuUsage();
  return { selfMs: (own.user + own.system) / 1000, childrenMs: st.childrenCpuMs };
}

function cpuSince(before: ReturnType<typeof workerCpu>): { cpu?: NonNullable<Row['cpu']> } {
  const now = workerCpu();
  if (!before || !now) return {};
  return { cpu: { processesMs: now.childrenMs - before.childrenMs, harnessMs: Math.round(now.selfMs - before.selfMs) } };
}

/**
 * A vitest test around one scenario: a per-test artifacts directory, VMs and tracked things
 * that are always stopped (every one, whatever failed first), one results.json row written
 * here and only here, and failure messages that name the artifacts directory. The body may
 * return figures for its row; an error may carry the figures measured before it (context.row).
 */
export function scenario(name: string, meta: ScenarioMeta, fn: (ctx: ScenarioContext) => Promise<Row | void>): void {
  test(name, { timeout: scale(meta.timeoutMs ?? deadline(undefined, 'scenario')) }, async (tctx) => {
    const artifacts = ArtifactDir.forTest(`${meta.suite}/${meta.arch ?? 'any'}/${name}`);
    const ctx = new ScenarioContext(artifacts);
    const base = { suite: meta.suite, scenario: name, arch: meta.arch, file: tctx.task.file.name, artifacts: artifacts.path };
    const started = Date.now();
    const cpuBefore = workerCpu();
    let error: unknown;
    let skipped: string | undefined;
    try {
      if (runConfig().hosts && !meta.twoHosts)
        ctx.skip(`${meta.oneHost ?? "a hand-written scenario (not a declarative case) that does not set twoHosts"}; this run has two hosts (${runConfig().hosts})`);
      const returned = await fn(ctx);
      if (returned) ctx.record(returned);
    } catch (e) {
      if (e instanceof SkipError) skipped = e.message;
      else error = e;
      if (e instanceof MigtestError && e.context.row) ctx.record(e.context.row as Row);
    }
    const stopErrors = await ctx.close();
    const ended = Date.now();
    const wallMs = ended - started;
    // Where the wall went: the VMs' starts and their migrations, timed on the scope's clock; the rest is the harness.
    const phases = ctx.clock.split(started, ended);
    const cpu = cpuSince(cpuBefore);
    // The artifacts budget: a scenario that did not fail keeps its logs and figures, not its disk images.
    if (!error && !stopErrors.length && !runConfig().keepArtifacts) dropBulk(artifacts.path);
    if (skipped !== undefined) {
      recordResult({ ...base, ...ctx.row, outcome: 'skipped', reason: skipped, wallMs, phases, ...cpu });
      tctx.skip(skipped);
      return;
    }
    if (!error && stopErrors.length) error = stopErrors[0];
    if (error) {
      const message = error instanceof Error ? error.message : String(error);
      recordResult({ ...base, ...ctx.row, outcome: 'failed', wallMs, phases, ...cpu, error: message.split('\n')[0] });
      if (error instanceof Error) error.message = `${message}\n  artifacts: ${artifacts.path}`;
      throw error;
    }
    recordResult({ ...base, ...ctx.row, outcome: 'passed', wallMs, phases, ...cpu });
  });
}

/**
 * A scenario that is one declarative case, named by its id: runCase() does the sequence and
 * the check of its expectation; `then` adds assertions on the report. The row is the case's
 * figures. It runs across two hosts too, unless the case says why it needs one (`oneHost`).
 */
export function caseScenario(
  c: MigrationCase,
  meta: Pick<ScenarioMeta, 'suite' | 'timeoutMs'>,
  then?: (report: CaseReport, ctx: ScenarioContext) => Promise<Row | void> | Row | void,
): void {
  scenario(c.id, { ...meta, arch: c.arch, twoHosts: true }, async (ctx) => {
    const report = await runCasePastKnownFlake(ctx, c);
    ctx.record(caseRow(report));
    return (await then?.(report, ctx)) ?? undefined;
  });
}

/**
 * runCase, and once more on a fresh pair when the outcome is a known flake
 * (case/known-flakes.ts): the first attempt's VMs stopped, its artifacts kept, its verdict in
 * the row (`extra.knownFlake`). A second known flake fails the case: twice is no flake.
 */
async function runCasePastKnownFlake(ctx: ScenarioContext, c: MigrationCase): Promise<CaseReport> {
  try {
    return await runCase(ctx, c);
  } catch (e) {
    if (!(e instanceof KnownFlakeError)) throw e;
    const first = e.message.split('\n')[0]!;
    await ctx.vms.stopAll();
    const again = new ScenarioContext(new ArtifactDir(join(ctx.artifacts.path, 'second-attempt')));
    ctx.track({
      stop: async () => {
        const [err] = await again.close();
        if (err) throw err;
      },
    });
    ctx.record({ extra: { knownFlake: `first attempt (artifacts kept here): ${first}` } });
    progress(`${c.id}: known flake ${String(e.context.flake)}, a second attempt on a fresh pair`);
    try {
      const report = await runCase(again, c);
      report.verdict = `${report.verdict} (second attempt: the first hit known flake ${String(e.context.flake)})`;
      return report;
    } catch (e2) {
      if (e2 instanceof KnownFlakeError) e2.message = `${e2.message}\n  twice in a row, so no flake; the first attempt: ${first}`;
      throw e2;
    }
  }
}

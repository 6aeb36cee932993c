import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { slug } from '../report/artifacts.js';
import type { ScenarioResult } from '../report/results.js';
import type { Arch } from '../util/arch.js';
import { ConfigError, MigtestError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import type { Build } from './order.js';
import { interruptedBy, runStreaming } from './spawn.js';

export type Verdict = 'good' | 'bad' | 'skip';
export const SIDES = ['both', 'source', 'destination'] as const;
export type Side = (typeof SIDES)[number];

/** One run of the scenario on one build. */
export interface Attempt {
  outcome: 'passed' | 'failed' | 'skipped';
  /** The run's directory (its results.json, logs and every artifact). */
  runDir?: string;
  /** The scenario's own artifacts directory in it. */
  artifacts?: string;
  scenario?: string;
  /** Why it failed or was skipped: the error's first line, the skip reason. */
  reason?: string;
}

/** A build's verdict over its attempts, with the counts (flakiness shows as a split). */
export interface StepResult {
  build: Build;
  verdict: Verdict;
  passed: number;
  failed: number;
  skipped: number;
  attempts: Attempt[];
}

/** Runs the scenario once on a build: the attempt'th of `of`. */
export type StepRunner = (build: Build, attempt: number, of: number) => Promise<Attempt>;

/**
 * The majority of the attempts that decided something: more passes than failures is good,
 * otherwise bad (a tie is bad: a build that fails half the time has the bug being hunted).
 * Skips are no evidence either way; only skips is a skip.
 */
export function decide(attempts: Attempt[]): Verdict {
  const passed = attempts.filter((a) => a.outcome === 'passed').length;
  const failed = attempts.filter((a) => a.outcome === 'failed').length;
  if (!passed && !failed) return 'skip';
  return passed > failed ? 'good' : 'bad';
}

/** `repeat` attempts on a build (all of them, so the counts show flakiness) and their majority. */
export async function runStep(build: Build, repeat: number, run: StepRunner): Promise<StepResult> {
  const attempts: Attempt[] = [];
  for (let i = 1; i <= repeat; i++) {
    attempts.push(await run(build, i, repeat));
    // An attempt cut short by Ctrl-C is no evidence: stop rather than count it.
    const signal = interruptedBy();
    if (signal) throw new MigtestError(`interrupted (${signal}) while testing ${build.label}`);
  }
  const count = (o: Attempt['outcome']) => attempts.filter((a) => a.outcome === o).length;
  return { build, verdict: decide(attempts), passed: count('passed'), failed: count('failed'), skipped: count('skipped'), attempts };
}

/** "2/3 passed, 1 failed" */
export const counts = (s: Pick<StepResult, 'passed' | 'failed' | 'skipped'>) =>
  [`${s.passed} passed`, `${s.failed} failed`, ...(s.skipped ? [`${s.skipped} skipped`] : [])].join(', ');

export interface ScenarioSelection {
  suite: string;
  pattern: string;
  arch: Arch;
}

/** -t selected no scenario, or more than one: the bisect cannot decide anything; it stops. */
export const selectionError = (sel: ScenarioSelection, names: string[]) =>
  new ConfigError(
    '-t',
    `'${sel.pattern}' selects ${names.length ? `${names.length} scenarios of ${sel.suite} on ${sel.arch}: ${names.map((n) => `'${n}'`).join(', ')}` : `no scenario of ${sel.suite} on ${sel.arch}`}`,
    'a pattern that selects exactly one scenario (migtest run SUITE --list shows their names)',
  );

/** The attempt a run's results.json records: its one row, or a refusal when -t selected other than one scenario. */
export function attemptFromResults(json: { runDir?: string; results?: ScenarioResult[] }, sel: ScenarioSelection): Attempt {
  const rows = (json.results ?? []).filter((r) => !r.arch || r.arch === sel.arch);
  if (rows.length !== 1) throw selectionError(sel, rows.map((r) => r.scenario));
  const r = rows[0]!;
  const artifacts = r.artifacts && json.runDir && !isAbsolute(r.artifacts) ? join(json.runDir, r.artifacts) : r.artifacts;
  return { outcome: r.outcome, runDir: json.runDir, artifacts, scenario: r.scenario, reason: r.outcome === 'failed' ? r.error : r.outcome === 'skipped' ? r.reason : r.verdict };
}

/** The run options that put a build on the bisected side(s); the other side runs the run's default. */
export const qemuArgs = (side: Side, spec: string) => [side === 'both' ? '--qemu' : side === 'source' ? '--src-qemu' : '--dst-qemu', spec];

export interface MigtestStepOptions extends ScenarioSelection {
  side: Side;
  /** Where each attempt's run directory goes. */
  dir: string;
  /** Each output line, prefixed with the build. */
  line: (text: string) => void;
  /** Instead of bin/migtest.mjs: a node script given the same arguments (tests only: it starts no QEMU). */
  program?: string;
}

/**
 * The real step: `migtest run SUITE -t PATTERN --qemu BUILD --arch ARCH` as a child (an argv
 * array, no shell), its output streamed prefixed with the build, its run directory under the
 * bisect's, and its results.json read for the verdict.
 */
export function migtestStep(o: MigtestStepOptions): StepRunner {
  return async (build, attempt, of) => {
    // Numbered in the order run, across processes (each git bisect step is one).
    const ordinal = readdirSync(o.dir).filter((n) => /^\d+-/.test(n)).length + 1;
    const runDir = join(o.dir, `${String(ordinal).padStart(2, '0')}-${slug(build.label)}${of > 1 ? `-${attempt}` : ''}`);
    mkdirSync(runDir, { recursive: true });
    const results = join(runDir, 'results.json');
    const argv = [process.execPath, o.program ?? join(repoRoot, 'bin/migtest.mjs'), 'run', o.suite, '-t', o.pattern, ...qemuArgs(o.side, build.spec), '--arch', o.arch, '--results', results];
    const prefix = `[${build.label}${of > 1 ? ` ${attempt}/${of}` : ''}]`;
    o.line(`${prefix} ${argv.slice(1).join(' ')}`);
    const { code, output } = await runStreaming(argv, {
      cwd: repoRoot,
      env: { ...process.env, MIGTEST_RUN_DIR: runDir },
      line: (t) => o.line(`${prefix} ${t}`),
      logFile: join(runDir, 'migtest-run.log'),
    });
    if (existsSync(results)) return attemptFromResults(JSON.parse(readFileSync(results, 'utf8')), o);
    const said = output.filter((l) => l.trim()).at(-1) ?? '(no output)';
    // Bad input (exit 2) before anything ran: the same for every build unless the build is the cause.
    if (code === 2) return { outcome: 'skipped', runDir, reason: `migtest run refused its input: ${said}` };
    if (code >= 128) throw new MigtestError(`migtest run on ${build.label} was interrupted (exit ${code}); its log: ${join(runDir, 'migtest-run.log')}`);
    return { outcome: 'skipped', runDir, reason: `migtest run ended (exit ${code}) without results.json: ${said}` };
  };
}

/** Before anything runs: -t must select exactly one scenario of the suite (`migtest run --list`, which starts nothing). */
export async function checkSelection(sel: ScenarioSelection, program = join(repoRoot, 'bin/migtest.mjs')): Promise<string> {
  const argv = [process.execPath, program, 'run', sel.suite, '-t', sel.pattern, '--arch', sel.arch, '--list'];
  const { code, output, stdout } = await runStreaming(argv, { cwd: repoRoot, env: { ...process.env, MIGTEST_QUIET: '1' }, line: () => undefined });
  // --list prints the names alone on stdout; its refusals say "migtest: invalid ..." on stderr.
  const refusal = output.find((l) => l.startsWith('migtest: '));
  if (code === 2 && /matches no scenario/.test(refusal ?? '')) throw selectionError(sel, []);
  if (code !== 0) throw new MigtestError(`listing the scenarios of ${sel.suite} failed (exit ${code}): ${refusal ?? output.at(-1) ?? '(no output)'}`);
  const names = stdout.filter((l) => l.trim());
  if (names.length !== 1) throw selectionError(sel, names);
  return names[0]!;
}

import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { resolveAccel, type AccelChoice, ACCEL_CHOICES } from '../qemu/accel.js';
import { reapAtStart } from '../testing/reaper.js';
import { defaultImage } from '../images/default.js';
import { ARCHES, parseArch, type Arch } from '../util/arch.js';
import { QEMU_SPEC_FORMS, findBinary } from '../qemu/catalog.js';
import { runDir } from '../report/artifacts.js';
import { readResults, type ScenarioResult } from '../report/results.js';
import { formatRepeats, summarizeRepeats } from '../report/repeat.js';
import { writeReports } from './report.js';
import { formatTable } from '../report/table.js';
import { ConfigError, MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { configureRun, parseJobs, runConfig } from '../util/run-config.js';
import { loadHostsFile } from '../host/hosts-file.js';
import { checkHosts } from '../host/run-hosts.js';
import { repoRoot } from '../util/paths.js';
import { parseShard, rotationSuites, suiteFiles, availableSuites } from './suites.js';
import { expandMatrix } from '../matrix/expand.js';
import { loadMatrix, presets } from '../matrix/load.js';

export interface RunOptions {
  all?: boolean;
  unit?: boolean;
  shard?: string;
  results?: string;
  accel?: string;
  arch?: string[];
  preset?: string;
  matrix?: string;
  qemu?: string;
  freshBoot?: boolean;
  jobs?: string;
  srcQemu?: string;
  dstQemu?: string;
  hosts?: string;
  testNamePattern?: string;
  repeat?: string;
  blob?: string;
  dryRun?: boolean;
  list?: boolean;
  rotation?: string;
}

/** --repeat: a whole number from 1 to 1000. */
export function parseRepeat(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000) throw new ConfigError('--repeat', `'${value}'`, ['a whole number from 1 to 1000']);
  return n;
}

/** -t: a regular expression vitest can use. */
export function parsePattern(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    new RegExp(value);
  } catch (e) {
    throw new ConfigError('-t/--test-name-pattern', `'${value}' is not a regular expression (${(e as Error).message})`, ['a regular expression matched against "suite > scenario" names']);
  }
  return value;
}

/** A run, validated: what it will do, before anything starts or is created. */
export interface RunPlan {
  files: string[];
  all: boolean;
  unitOnly: boolean;
  arches: Arch[];
  accel: AccelChoice;
  jobs: number;
  repeat: number;
  pattern?: string;
  shard?: string;
  matrix?: { name: string; cells: number };
  /** Per arch and side: the QEMU binary and its version. */
  binaries: Array<{ arch: Arch; side: 'source' | 'destination'; version: string; source: string; path: string }>;
  hosts?: string;
  results?: string;
  freshBoot: boolean;
  /** The share of a rotation this run is (--rotation). */
  rotation?: string;
}

/**
 * Every option, environment variable and file of a run checked, and the binaries found and
 * run (`--version`), before any VM starts and before anything is created: a bad one is a
 * ConfigError naming the field and what is allowed.
 */
export async function planRun(names: string[], opts: RunOptions): Promise<RunPlan> {
  const matrix = opts.matrix ?? opts.preset;
  let rotation: string | undefined;
  if (opts.rotation !== undefined) {
    if (names.length || opts.all) throw new ConfigError('--rotation', 'picks the suites itself: name none, and no --all', 'k or i/k');
    const r = rotationSuites(opts.rotation);
    rotation = r.share;
    names = r.suites;
  }
  if (!names.length && !opts.all && !opts.unit && !matrix)
    throw new ConfigError('suite', 'name at least one suite, or --all, or --preset', availableSuites());
  if (opts.preset && opts.matrix) throw new ConfigError('--preset/--matrix', 'give one, not both', presets());
  let matrixPlan: RunPlan['matrix'];
  if (matrix) {
    // Validated here, before any VM starts: a bad matrix names its field and the allowed values.
    const m = loadMatrix(matrix);
    matrixPlan = { name: m.name, cells: expandMatrix(m).length };
    configureRun({ matrix });
    names = [...new Set([...names, ...availableSuites().filter((s) => s.startsWith('matrix-'))])];
  }
  if (opts.qemu && (opts.srcQemu || opts.dstQemu)) throw new ConfigError('--qemu/--src-qemu/--dst-qemu', '--qemu sets both sides: give it alone, or the per-side options', QEMU_SPEC_FORMS);
  configureRun({ qemu: opts.qemu, qemuSrc: opts.srcQemu, qemuDst: opts.dstQemu });
  const hostsFile = opts.hosts ?? runConfig().hosts;
  if (hostsFile) configureRun({ hosts: loadHostsFile(hostsFile).file });
  const arches: Arch[] = opts.arch?.length ? opts.arch.map((a) => parseArch(a, '--arch')) : [...ARCHES];
  // Every side's binary, for every arch of the run, found and run once.
  const { src, dst } = runConfig().qemu;
  const binaries: RunPlan['binaries'] = [];
  for (const arch of arches)
    for (const [side, spec] of [['source', src], ['destination', dst]] as const) {
      const b = await findBinary(arch, spec);
      binaries.push({ arch, side, version: b.version, source: b.source, path: b.path });
    }
  const files = suiteFiles(names);
  const accel = (opts.accel ?? runConfig().accel) as AccelChoice;
  if (!(ACCEL_CHOICES as readonly string[]).includes(accel)) throw new ConfigError('--accel', `'${accel}'`, ACCEL_CHOICES);
  return {
    files,
    all: !!opts.all,
    unitOnly: !!opts.unit && !files.length,
    arches,
    accel,
    jobs: opts.jobs === undefined ? runConfig().jobs : parseJobs(opts.jobs, '--jobs'),
    repeat: parseRepeat(opts.repeat),
    pattern: parsePattern(opts.testNamePattern),
    shard: opts.shard === undefined ? undefined : parseShard(opts.shard),
    matrix: matrixPlan,
    binaries,
    hosts: runConfig().hosts,
    results: opts.results,
    freshBoot: !!opts.freshBoot || !runConfig().snapshotStart,
    rotation,
  };
}

/** The plan as lines a user reads (`--dry-run`). */
export function describePlan(p: RunPlan): string[] {
  return [
    ...(p.rotation ? [`rotation share ${p.rotation}`] : []),
    `suites: ${p.all ? 'unit tests and every suite' : p.unitOnly ? 'unit tests' : p.files.map((f) => f.replace(/^suites\/|\.test\.ts$/g, '')).join(', ')}`,
    ...(p.matrix ? [`matrix ${p.matrix.name}: ${p.matrix.cells} cells`] : []),
    `arches: ${p.arches.join(', ')}; accelerator: ${p.accel}; ${p.jobs} suite file(s) at once${p.repeat > 1 ? `; ${p.repeat} repetitions` : ''}${p.shard ? `; shard ${p.shard}` : ''}${p.pattern ? `; scenarios matching /${p.pattern}/` : ''}`,
    ...p.binaries.map((b) => `${b.arch} ${b.side}: QEMU ${b.version} (${b.source}) ${b.path}`),
    `hosts: ${p.hosts ?? 'this machine'}`,
    `snapshot start: ${p.freshBoot ? 'off (every VM boots)' : 'on'}`,
  ];
}

/** vitest's own list of the scenarios a plan selects: "suite > describe > scenario", one per line. */
async function listScenarios(plan: RunPlan): Promise<string[]> {
  const vitest = join(createRequire(import.meta.url).resolve('vitest/package.json'), '..', 'vitest.mjs');
  const args = [vitest, 'list', '--project', 'e2e', ...plan.files, ...(plan.pattern ? ['-t', plan.pattern] : [])];
  const r = await execa(process.execPath, args, { cwd: repoRoot, reject: false, env: { FORCE_COLOR: '0', MIGTEST_QUIET: '1', MIGTEST_LIST_ONLY: '1' } });
  if (r.exitCode !== 0) throw new MigtestError(`listing the scenarios failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('[e2e] '))
    .map((l) => l.replace(/^\[e2e\] suites\/[^ ]+ > /, ''));
}

/**
 * `migtest run`: validates everything before any VM starts (planRun), prepares images and
 * the accelerator once, runs vitest with its progress output, then prints the results table
 * and writes results.json. `--dry-run` prints the plan, `--list` the scenarios, and both
 * stop there, having created nothing.
 */
export async function runSuites(names: string[], opts: RunOptions): Promise<number> {
  const plan = await planRun(names, opts);
  configureRun({ accel: plan.accel, arches: plan.arches, jobs: plan.jobs, ...(opts.freshBoot ? { freshBoot: true } : {}) });
  if (opts.dryRun) {
    process.stdout.write(`${describePlan(plan).join('\n')}\n`);
    return 0;
  }
  if (opts.list) {
    process.stdout.write(`${(await listScenarios(plan)).join('\n')}\n`);
    return 0;
  }
  const { files, arches, accel, jobs, repeat, pattern, shard } = plan;
  for (const b of plan.binaries) progress(`${b.side} QEMU for ${b.arch}: ${b.version} (${b.source}) ${b.path}`);
  if (plan.matrix) progress(`matrix ${plan.matrix.name}: ${plan.matrix.cells} cells`);
  if (plan.rotation) progress(`rotation share ${plan.rotation}: ${files.map((f) => f.replace(/^suites\/|\.test\.ts$/g, '')).join(', ')}`);
  // Both hosts reached (keys verified) before any VM starts.
  if (plan.hosts) for (const line of await checkHosts(loadHostsFile(plan.hosts))) progress(line);
  for (const line of await reapAtStart()) progress(`cleaned up: ${line}`);
  const dir = runDir();
  if (jobs > 1) progress(`${jobs} suite files at once`);
  if (!runConfig().snapshotStart) progress('snapshot start off: every VM boots');
  if (files.length || opts.all) {
    for (const arch of arches) {
      const img = await defaultImage(arch);
      progress(`image for ${arch}: ${img.rootDisk}`);
      await resolveAccel(accel, await findBinary(arch));
    }
  }
  progress(`artifacts: ${dir}`);

  const vitest = join(createRequire(import.meta.url).resolve('vitest/package.json'), '..', 'vitest.mjs');
  const args = [vitest, 'run'];
  if (opts.all) args.push(...files);
  else if (opts.unit && !files.length) args.push('--project', 'unit');
  else args.push('--project', 'e2e', ...files);
  if (shard) args.push(`--shard=${shard}`);
  if (pattern) args.push('-t', pattern);
  args.push('--reporter=default', `--reporter=${join(repoRoot, 'harness/report/progress-reporter.ts')}`);
  if (opts.blob) args.push('--reporter=blob', `--outputFile.blob=${resolve(opts.blob)}`);
  const out = resolve(opts.results ?? join(dir, 'results.json'));
  const vitestRun = (env: Record<string, string> = {}) => execa(process.execPath, args, { cwd: repoRoot, stdio: 'inherit', reject: false, env: { FORCE_COLOR: '0', ...env } });

  if (repeat === 1) {
    const r = await vitestRun();
    const rows = readResults(dir);
    writeFileSync(out, `${JSON.stringify({ runDir: dir, accel, arches, results: rows }, null, 2)}\n`);
    const reports = writeReports(out, rows);
    if (rows.length) process.stdout.write(`\n${formatTable(rows)}\n`);
    process.stdout.write(`results: ${out}\njunit: ${reports.junit}\nsummary: ${reports.summary}\nreport: ${reports.html}\n`);
    return r.exitCode ?? 1;
  }

  // --repeat: each repetition in a directory of its own (its artifacts and rows kept apart).
  const repetitions: ScenarioResult[][] = [];
  let worst = 0;
  for (let i = 1; i <= repeat; i++) {
    const sub = join(dir, `repeat-${i}`);
    progress(`repetition ${i}/${repeat}: ${sub}`);
    const r = await vitestRun({ MIGTEST_RUN_DIR: sub });
    worst = Math.max(worst, r.exitCode ?? 1);
    repetitions.push(readResults(sub));
  }
  const summary = summarizeRepeats(repetitions);
  const rows = repetitions.flatMap((rs, i) => rs.map((r) => ({ ...r, extra: { ...r.extra, repetition: i + 1 } })));
  writeFileSync(out, `${JSON.stringify({ runDir: dir, accel, arches, repeat, summary, results: rows }, null, 2)}\n`);
  writeReports(out, rows);
  process.stdout.write(`\n${repeat} repetitions\n${formatRepeats(summary)}\n`);
  process.stdout.write(`results: ${out}\n`);
  return worst;
}

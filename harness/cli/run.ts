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
import { ConfigError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { configureRun, parseJobs, runConfig } from '../util/run-config.js';
import { loadHostsFile } from '../host/hosts-file.js';
import { checkHosts } from '../host/run-hosts.js';
import { repoRoot } from '../util/paths.js';
import { parseShard, suiteFiles, availableSuites } from './suites.js';
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

/**
 * `migtest run`: validates everything before any VM starts, prepares images and the
 * accelerator once, runs vitest with its progress output, then prints the results table
 * and writes results.json.
 */
export async function runSuites(names: string[], opts: RunOptions): Promise<number> {
  const matrix = opts.matrix ?? opts.preset;
  if (!names.length && !opts.all && !opts.unit && !matrix)
    throw new ConfigError('suite', 'name at least one suite, or --all, or --preset', availableSuites());
  if (opts.preset && opts.matrix) throw new ConfigError('--preset/--matrix', 'give one, not both', presets());
  if (matrix) {
    // Validated here, before any VM starts: a bad matrix names its field and the allowed values.
    const cells = expandMatrix(loadMatrix(matrix));
    configureRun({ matrix });
    progress(`matrix ${matrix}: ${cells.length} cells`);
    names = [...new Set([...names, ...availableSuites().filter((s) => s.startsWith('matrix-'))])];
  }
  if (opts.qemu && (opts.srcQemu || opts.dstQemu)) throw new ConfigError('--qemu/--src-qemu/--dst-qemu', '--qemu sets both sides: give it alone, or the per-side options', QEMU_SPEC_FORMS);
  configureRun({ qemu: opts.qemu, qemuSrc: opts.srcQemu, qemuDst: opts.dstQemu });
  if (opts.hosts ?? runConfig().hosts) {
    // Checked and both hosts reached (keys verified) before any VM starts.
    const file = loadHostsFile(opts.hosts ?? runConfig().hosts!);
    configureRun({ hosts: file.file });
    for (const line of await checkHosts(file)) progress(line);
  }
  // Every side's binary, for every arch of the run, found and run once before any VM starts.
  const { src, dst } = runConfig().qemu;
  for (const arch of opts.arch?.length ? opts.arch : ARCHES)
    for (const [side, spec] of [['source', src], ['destination', dst]] as const) {
      if (!spec) continue;
      const b = await findBinary(parseArch(arch, '--arch'), spec);
      progress(`${side} QEMU for ${arch}: ${b.version} (${b.source}) ${b.path}`);
    }
  const files = suiteFiles(names);
  const repeat = parseRepeat(opts.repeat);
  const pattern = parsePattern(opts.testNamePattern);
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  const accel = (opts.accel ?? runConfig().accel) as AccelChoice;
  if (!(ACCEL_CHOICES as readonly string[]).includes(accel)) throw new ConfigError('--accel', `'${accel}'`, ACCEL_CHOICES);
  const arches: Arch[] = opts.arch?.length ? opts.arch.map((a) => parseArch(a, '--arch')) : [...ARCHES];

  for (const line of await reapAtStart()) progress(`cleaned up: ${line}`);
  const dir = runDir();
  // Validated with the rest before any VM starts (the environment's value too).
  const jobs = opts.jobs === undefined ? runConfig().jobs : parseJobs(opts.jobs, '--jobs');
  configureRun({ accel, arches, jobs, ...(opts.freshBoot ? { freshBoot: true } : {}) });
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

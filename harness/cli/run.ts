import { execa } from 'execa';
import { FIRMWARES, parseFirmware, secureBootKeys, uefiFirmware, type FirmwareKind } from '../images/firmware.js';
import { accessSync, constants, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadGrid } from '../compat/grid.js';
import { checkGrid } from '../compat/versions.js';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { resolveAccel, type AccelChoice, ACCEL_CHOICES } from '../qemu/accel.js';
import { reapAtStart } from '../testing/reaper.js';
import { defaultImage } from '../images/default.js';
import { ARCHES, PROFILES, parseArch, parseImageChoice, parseLiveness, type Arch, type LivenessSource, type Profile } from '../util/arch.js';
import { userDiskFormat } from '../images/user.js';
import { QEMU_SPEC_FORMS, findBinary } from '../qemu/catalog.js';
import { runDir } from '../report/artifacts.js';
import { readResults, type ScenarioResult } from '../report/results.js';
import { formatRepeats, summarizeRepeats } from '../report/repeat.js';
import { writeReports } from './report.js';
import { formatTable } from '../report/table.js';
import { formatTimeSplit, runTimeOptions } from '../report/time-split.js';
import { ConfigError, MigtestError, SkipError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { configureRun, parseJobs, runConfig } from '../util/run-config.js';
import { loadHostsFile } from '../host/hosts-file.js';
import { checkHosts } from '../host/run-hosts.js';
import { busyPct, hostCpu, type HostCpu } from '../host/procfs.js';
import { repoRoot } from '../util/paths.js';
import { hostname, type as osType, release as osRelease, arch as osArch } from 'node:os';
import { basename, dirname } from 'node:path';
import { relativeRows, type RunMetadata } from '../report/metadata.js';
import { migtestVersion } from './version.js';
import { historyTarget } from '../history/store.js';

/** Bytes under a directory. */
function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => {
    const p = join(dir, e.name);
    return n + (e.isDirectory() ? treeBytes(p) : e.isFile() ? statSync(p).size : 0);
  }, 0);
}
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** An output file: its folder must exist and be writable, and it must not be a folder. */
export function checkWritable(file: string, field: string): void {
  const full = resolve(file);
  if (existsSync(full) && statSync(full).isDirectory()) throw new ConfigError(field, `'${file}' is a directory`, 'a file path (its folder must exist)');
  const dir = dirname(full);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(field, `'${file}': its folder ${dir} does not exist`, 'a file in an existing, writable folder');
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new ConfigError(field, `'${file}': its folder ${dir} is not writable`, 'a file in an existing, writable folder');
  }
}

/** The folders a run writes under (MIGTEST_CACHE, MIGTEST_STATE, MIGTEST_ARTIFACTS, MIGTEST_RUN_DIR) and the user's image (MIGTEST_KERNEL, ...), checked before anything is made. */
function checkRunDirs(): void {
  const c = runConfig();
  for (const [field, dir] of [['MIGTEST_CACHE', c.cacheDir], ['MIGTEST_STATE', c.stateDir], ['MIGTEST_ARTIFACTS', c.artifactsRoot], ['MIGTEST_RUN_DIR', c.runDir]] as const)
    if (dir && existsSync(dir) && !statSync(dir).isDirectory()) throw new ConfigError(field, `'${dir}' is not a directory`, 'a directory (made when missing)');
  if (c.image)
    for (const [field, file] of [['MIGTEST_KERNEL', c.image.kernel], ['MIGTEST_INITRD', c.image.initrd], ['MIGTEST_DISK', c.image.disk]] as const)
      if (!existsSync(file) || !statSync(file).isFile()) throw new ConfigError(field, `'${file}' does not exist or is not a file`, 'a path to a file');
}

/** A guest image by its recipe hash (the cache folder's name), or the user's own file. */
const BUILT_IN = new RegExp(`^(${PROFILES.join('|')})-`);
const imageIdentity = (rootDisk: string) => (BUILT_IN.test(basename(dirname(rootDisk))) ? basename(dirname(rootDisk)) : rootDisk);
import { parseShard, rotationSuites, suiteFiles, availableSuites } from './suites.js';
import { expandMatrix } from '../matrix/expand.js';
import { loadMatrix, presets } from '../matrix/load.js';

export interface RunOptions {
  all?: boolean;
  unit?: boolean;
  shard?: string;
  results?: string;
  accel?: string;
  firmware?: string;
  liveness?: string;
  image?: string;
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
  keepArtifacts?: boolean;
  /** --history [db]: record the run in a history store (true: the default one); else MIGTEST_HISTORY_DB. */
  history?: string | boolean;
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
  /** What boots every VM (--firmware, MIGTEST_FIRMWARE). */
  firmware: FirmwareKind;
  /** Where the guest's signs of life come from (--liveness, MIGTEST_LIVENESS). */
  liveness: LivenessSource;
  /** The built-in image every VM boots, or the user's disk image file (--image, MIGTEST_IMAGE). */
  image: Profile | string;
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
  // An empty value (--qemu "", --hosts "$UNSET_VAR") is a mistake, never read as "the default".
  const empty: Array<[string, string | undefined, string | readonly string[]]> = [
    ['--qemu', opts.qemu, QEMU_SPEC_FORMS], ['--src-qemu', opts.srcQemu, QEMU_SPEC_FORMS], ['--dst-qemu', opts.dstQemu, QEMU_SPEC_FORMS],
    ['--preset', opts.preset, presets()], ['--matrix', opts.matrix, 'a matrix file (YAML) or a preset name'],
    ['--hosts', opts.hosts, 'a hosts file (YAML; `migtest hosts up` writes one)'],
    ['--results', opts.results, 'a file path (its folder must exist)'], ['--blob', opts.blob, 'a file path (its folder must exist)'],
  ];
  for (const [flag, value, allowed] of empty) if (value !== undefined && !value.trim()) throw new ConfigError(flag, 'is empty', allowed);
  const matrix = opts.matrix ?? opts.preset;
  let rotation: string | undefined;
  if (opts.rotation !== undefined) {
    if (opts.all) throw new ConfigError('--rotation', 'picks a share of the suites itself, or of those named: not with --all', 'k or i/k, with suites named or none');
    // Named suites are checked first: a share of a typo is still a typo.
    if (names.length) suiteFiles(names);
    const r = rotationSuites(opts.rotation, new Date(), names.length ? names : undefined);
    rotation = r.share;
    names = r.suites;
  }
  if (!names.length && !opts.all && !opts.unit && !matrix)
    throw new ConfigError('suite', 'name at least one suite, or --all, or --preset', availableSuites());
  if (opts.unit && (names.length || opts.all || matrix)) throw new ConfigError('--unit', 'runs the unit tests alone: name no suite, and no --all, --preset or --matrix', ['--unit alone', 'suites', '--all (unit tests and every suite)']);
  if (opts.preset && opts.matrix) throw new ConfigError('--preset/--matrix', 'give one, not both', presets());
  const arches: Arch[] = opts.arch?.length ? opts.arch.map((a) => parseArch(a, '--arch')) : [...ARCHES];
  if (opts.results !== undefined) checkWritable(opts.results, '--results');
  if (opts.blob !== undefined) checkWritable(opts.blob, '--blob');
  if (opts.dryRun && opts.list) throw new ConfigError('--dry-run/--list', 'give one: --dry-run prints the plan, --list the scenarios', ['--dry-run', '--list']);
  // The flags that need nothing but themselves, before a file is read or a binary run.
  suiteFiles(names);
  const jobs = opts.jobs === undefined ? runConfig().jobs : parseJobs(opts.jobs, '--jobs');
  const repeat = parseRepeat(opts.repeat);
  const pattern = parsePattern(opts.testNamePattern);
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  const accel = (opts.accel ?? runConfig().accel) as AccelChoice;
  if (!(ACCEL_CHOICES as readonly string[]).includes(accel)) throw new ConfigError('--accel', `'${accel}'`, ACCEL_CHOICES);
  const firmware = opts.firmware === undefined ? runConfig().firmware : parseFirmware('--firmware', opts.firmware);
  const liveness = opts.liveness === undefined ? runConfig().liveness : parseLiveness('--liveness', opts.liveness);
  const imageField = opts.image === undefined ? 'MIGTEST_IMAGE' : '--image';
  const choice = opts.image === undefined ? (runConfig().imageFile ? { file: runConfig().imageFile! } : { profile: runConfig().imageProfile }) : parseImageChoice('--image', opts.image);
  const image = choice.file ?? choice.profile!;
  // Its files on this machine, for every arch of the run, before anything starts: a guest
  // booted from its disk (system, your own) boots its shim with Microsoft's keys enrolled.
  const keys = secureBootKeys(image === 'system' || !!choice.file);
  for (const arch of arches)
    try {
      uefiFirmware(arch, firmware, keys);
    } catch (e) {
      if (e instanceof SkipError) throw new ConfigError(opts.firmware === undefined ? 'MIGTEST_FIRMWARE' : '--firmware', `'${firmware}': ${e.message}`, FIRMWARES);
      throw e;
    }
  if (choice.file) {
    // A user's disk is one arch's and on this machine: checked and read before anything starts.
    if (arches.length !== 1) throw new ConfigError(imageField, `'${choice.file}' boots one architecture: give --arch`, ARCHES);
    await userDiskFormat(choice.file, imageField);
  }
  if (opts.qemu && (opts.srcQemu || opts.dstQemu)) throw new ConfigError('--qemu/--src-qemu/--dst-qemu', '--qemu sets both sides: give it alone, or the per-side options', QEMU_SPEC_FORMS);
  checkRunDirs();
  let matrixPlan: RunPlan['matrix'];
  // The matrix (--preset, --matrix, else MIGTEST_MATRIX) and the grid (MIGTEST_COMPAT), read
  // and checked whether or not their suites run: a bad one is bad input all the same.
  const m = loadMatrix(matrix ?? runConfig().matrix);
  const grid = loadGrid(runConfig().compatGrid);
  if (matrix) {
    const cells = expandMatrix(m).filter((c) => arches.includes(c.arch));
    if (!cells.length) throw new ConfigError(`matrix ${matrix}`, `has no cell for the run's arches (${arches.join(', ')}): its filters leave none`, `a matrix with cells for ${arches.join(' or ')}`);
    // A QEMU a cell names must exist for its arch, before any VM starts.
    for (const c of cells) for (const v of [c.qemu.src, c.qemu.dst]) if (v !== 'default') await findBinary(c.arch, v);
    matrixPlan = { name: m.name, cells: cells.length };
    configureRun({ matrix });
    names = [...new Set([...names, ...availableSuites().filter((s) => s.startsWith('matrix-'))])];
  }
  configureRun({ qemu: opts.qemu, qemuSrc: opts.srcQemu, qemuDst: opts.dstQemu });
  const hostsFile = opts.hosts ?? runConfig().hosts;
  if (hostsFile) configureRun({ hosts: loadHostsFile(hostsFile).file });
  // Every side's binary, for every arch of the run, found and run once.
  const { src, dst } = runConfig().qemu;
  const binaries: RunPlan['binaries'] = [];
  for (const arch of arches)
    for (const [side, spec] of [['source', src], ['destination', dst]] as const) {
      const b = await findBinary(arch, spec);
      binaries.push({ arch, side, version: b.version, source: b.source, path: b.path });
    }
  const files = suiteFiles(names);
  // The grid's versions, machine types and CPU models against the binaries, when its suite runs.
  if (opts.all || names.includes('compat')) await checkGrid(grid, arches, `compat grid ${runConfig().compatGrid}`);
  return {
    files,
    all: !!opts.all,
    unitOnly: !!opts.unit && !files.length,
    arches,
    accel,
    firmware,
    liveness,
    image,
    jobs,
    repeat,
    pattern,
    shard,
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
    `arches: ${p.arches.join(', ')}; accelerator: ${p.accel}; image: ${p.image}; firmware: ${p.firmware}; liveness: ${p.liveness}; ${p.jobs} suite file(s) at once${p.repeat > 1 ? `; ${p.repeat} repetitions` : ''}${p.shard ? `; shard ${p.shard}` : ''}${p.pattern ? `; scenarios matching /${p.pattern}/` : ''}`,
    ...p.binaries.map((b) => `${b.arch} ${b.side}: QEMU ${b.version} (${b.source}) ${b.path}`),
    `hosts: ${p.hosts ?? 'this machine'}`,
    `snapshot start: ${p.freshBoot ? 'off (every VM boots)' : 'on'}`,
  ];
}

/** The machine's cores and how busy they were since `from` (nothing where there is no /proc). */
function runCpu(from: HostCpu | undefined): Pick<RunMetadata, 'hostCpu'> {
  const now = hostCpu();
  return now ? { hostCpu: { cores: now.cores, busyPct: busyPct(from, now) } } : {};
}

/** The run's last lines: where its time went, by suite file (nothing when no row has phases). */
function printTimeSplit(rows: ScenarioResult[], meta: RunMetadata): void {
  const text = formatTimeSplit(rows, runTimeOptions(meta));
  if (text) process.stdout.write(`\n${text}\n`);
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
  const history = historyTarget(opts.history);
  configureRun({ accel: plan.accel, firmware: plan.firmware, liveness: plan.liveness, image: plan.image, arches: plan.arches, jobs: plan.jobs, ...(opts.freshBoot ? { freshBoot: true } : {}), ...(opts.keepArtifacts ? { keepArtifacts: true } : {}) });
  if (opts.dryRun) {
    process.stdout.write(`${describePlan(plan).join('\n')}\n`);
    return 0;
  }
  if (opts.list) {
    const names = await listScenarios(plan);
    // A pattern that selects nothing is a typo more often than not: say so, as bad input.
    if (!names.length) throw new ConfigError('-t', `'${plan.pattern ?? ''}' matches no scenario of ${plan.files.map((f) => f.replace(/^suites\/|\.test\.ts$/g, '')).join(', ')}`, 'a regular expression matching scenario names (run --list without -t to see them)');
    process.stdout.write(`${names.join('\n')}\n`);
    return 0;
  }
  const { files, arches, accel, jobs, repeat, pattern, shard } = plan;
  for (const b of plan.binaries) progress(`${b.side} QEMU for ${b.arch}: ${b.version} (${b.source}) ${b.path}`);
  if (plan.matrix) progress(`matrix ${plan.matrix.name}: ${plan.matrix.cells} cells`);
  if (plan.rotation) progress(`rotation share ${plan.rotation}: ${files.map((f) => f.replace(/^suites\/|\.test\.ts$/g, '')).join(', ')}`);
  // Both hosts reached (keys verified) before any VM starts.
  if (plan.hosts) for (const line of await checkHosts(loadHostsFile(plan.hosts))) progress(line);
  for (const line of await reapAtStart()) progress(`cleaned up: ${line}`);
  const startedAt = new Date().toISOString();
  const cpuAtStart = hostCpu();
  const dir = runDir();
  if (jobs > 1) progress(`${jobs} suite files at once`);
  const accels: RunMetadata['accel'] = [];
  const images: RunMetadata['images'] = [];
  if (!runConfig().snapshotStart) progress('snapshot start off: every VM boots');
  if (files.length || opts.all) {
    for (const arch of arches) {
      const img = await defaultImage(arch);
      progress(`image for ${arch}: ${img.rootDisk}`);
      images.push({ arch, image: imageIdentity(img.rootDisk) });
      const decided = await resolveAccel(accel, await findBinary(arch, runConfig().qemu.src));
      accels.push({ arch, accel: decided.accel, why: decided.reason });
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

  const meta = (): RunMetadata => ({
    migtest: migtestVersion(),
    command: ['migtest', ...process.argv.slice(2)],
    startedAt,
    endedAt: new Date().toISOString(),
    host: { hostname: hostname(), kernel: `${osType()} ${osRelease()} ${osArch()}` },
    hostsFile: plan.hosts,
    accel: accels,
    qemu: plan.binaries,
    images,
    ...runCpu(cpuAtStart),
  });
  if (repeat === 1) {
    const r = await vitestRun();
    const rows = readResults(dir);
    const metadata = meta();
    writeFileSync(out, `${JSON.stringify({ runDir: dir, metadata, results: relativeRows(rows, dir) }, null, 2)}\n`);
    const reports = writeReports(out, relativeRows(rows, dir), 'migtest', { meta: metadata, runDir: dir, history });
    if (rows.length) process.stdout.write(`\n${formatTable(rows)}\n`);
    process.stdout.write(`results: ${out}\njunit: ${reports.junit}\nsummary: ${reports.summary}\nreport: ${reports.html}\nartifacts: ${dir} (${mib(treeBytes(dir))} MiB${runConfig().keepArtifacts ? ', disk images kept' : "; passing scenarios' disk images dropped (--keep-artifacts keeps them)"})\n`);
    printTimeSplit(rows, metadata);
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
  const metadata = meta();
  writeFileSync(out, `${JSON.stringify({ runDir: dir, metadata, repeat, summary, results: relativeRows(rows, dir) }, null, 2)}\n`);
  writeReports(out, relativeRows(rows, dir), 'migtest', { meta: metadata, runDir: dir, history });
  process.stdout.write(`\n${repeat} repetitions\n${formatRepeats(summary)}\n`);
  process.stdout.write(`results: ${out}\n`);
  // Every repetition's rows: the time of the whole run.
  printTimeSplit(rows, metadata);
  return worst;
}

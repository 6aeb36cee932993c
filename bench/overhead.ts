/**
 * BENCH_ONLY=overhead: what the harness costs over a bare script doing the same steps.
 *
 * Per arch, both with a fresh boot and with snapshot start:
 *   harness: `migtest run precopy-basic -t "over tcp" --arch A --repeat N [--fresh-boot]`,
 *            its scenario walls read from results.json (wallMs: the scenario from its start to
 *            both VMs stopped), and the CLI process's own wall (vitest, reaping, the plan...);
 *   bare:    bench/bare.py on the argvs that run recorded (its artifacts directory), N times,
 *            with the snapshot start from the very file the harness's snapshot cache restored.
 * Medians of N = BENCH_REPS; the ratio is harness wall / bare wall.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsPath } from '../harness/report/metadata.js';
import type { ScenarioResult } from '../harness/report/results.js';
import type { Arch } from '../harness/util/arch.js';
import { artifactsRoot, repoRoot } from '../harness/util/paths.js';
import { SnapshotCache } from '../harness/vm/snapshot.js';
import { childEnv, median, ms, REPS, s, table, timed, words } from './common.js';

const SUITE = 'precopy-basic';
const SCENARIO = 'live precopy over tcp';
const PATTERN = 'over tcp';
const BARE = join(repoRoot, 'bench/bare.py');
const PYTHON = process.env.BENCH_PYTHON ?? 'python3';
/** The migtest CLI to run (BENCH_MIGTEST; default this repository's bin/migtest.mjs). */
const MIGTEST = process.env.BENCH_MIGTEST ?? join(repoRoot, 'bin/migtest.mjs');

/** One harness row of the scenario, with how its source started. */
interface HarnessRow {
  row: ScenarioResult;
  dir: string;
  /** restored (from `snapshot`), booted, booted+saved, or fresh (snapshot start off). */
  start: string;
  snapshot?: string;
}

interface HarnessRun {
  command: string;
  cliMs: number;
  exitCode: number | undefined;
  log: string;
  rows: HarnessRow[];
}

/** What bare.py prints: one JSON line. */
interface BareResult {
  ok: boolean;
  error?: string;
  wallMs?: number;
  phases?: Record<string, number>;
  guestDowntimeMs?: number;
  qemuTotalTimeMs?: number;
  qemuDowntimeMs?: number;
  problems?: string[];
  /** The python process's wall as this process saw it. */
  processMs: number;
}

/** The source's start as the harness wrote it (src.start.json), and the snapshot file it used or saved. */
function sourceStart(dir: string): { start: string; snapshot?: string } {
  const f = join(dir, 'src.start.json');
  if (!existsSync(f)) return { start: 'unknown' };
  const j = JSON.parse(readFileSync(f, 'utf8')) as { snapshotStart?: boolean; key?: string; restoredFrom?: string; booted?: boolean; savesSnapshot?: boolean };
  if (j.restoredFrom) return { start: 'restored', snapshot: j.restoredFrom };
  if (!j.snapshotStart) return { start: 'fresh' };
  // Booted this time; the cache's file for its key exists once that boot (or a later one) saved it.
  const file = j.key ? new SnapshotCache().file(j.key) : undefined;
  return { start: j.savesSnapshot ? 'booted+saved' : 'booted', snapshot: file && existsSync(file) ? file : undefined };
}

/** `migtest run` of the one scenario, N repetitions, in a run directory of the bench's. */
async function harnessRun(arch: Arch, fresh: boolean, runDir: string): Promise<HarnessRun> {
  mkdirSync(runDir, { recursive: true });
  const args = ['run', SUITE, '-t', PATTERN, '--arch', arch, '--repeat', String(REPS), ...(fresh ? ['--fresh-boot'] : []), ...words('BENCH_RUN_ARGS')];
  const command = `node bin/migtest.mjs ${args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`;
  process.stderr.write(`[bench] ${command}  (MIGTEST_RUN_DIR=${runDir})\n`);
  const [cliMs, r] = await timed(() =>
    execa(process.execPath, [MIGTEST, ...args], {
      cwd: repoRoot,
      reject: false,
      all: true,
      extendEnv: false,
      env: { ...childEnv(), MIGTEST_RUN_DIR: runDir, MIGTEST_QUIET: '1' },
    }),
  );
  const log = join(runDir, 'bench-cli.log');
  writeFileSync(log, `${command}\n${r.all ?? ''}\n`);
  const results = join(runDir, 'results.json');
  const rows: HarnessRow[] = [];
  if (existsSync(results)) {
    const j = JSON.parse(readFileSync(results, 'utf8')) as { runDir?: string; results: ScenarioResult[] };
    for (const row of j.results) {
      if (row.suite !== SUITE || row.scenario !== SCENARIO || row.arch !== arch) continue;
      const dir = artifactsPath(row.artifacts ?? '', j.runDir ?? runDir);
      rows.push({ row, dir, ...sourceStart(dir) });
    }
  }
  if (r.exitCode !== 0 || !rows.some((x) => x.row.outcome === 'passed'))
    process.stderr.write(`[bench] ${command}: exit ${r.exitCode}, ${rows.filter((x) => x.row.outcome === 'passed').length}/${rows.length} passed; output in ${log}\n${(r.all ?? '').split('\n').slice(-15).join('\n')}\n`);
  return { command, cliMs, exitCode: r.exitCode, log, rows };
}

/** bench/bare.py on a scenario's recorded argvs, once. */
async function bareRun(dir: string, snapshot: string | undefined, extra: string[] = []): Promise<BareResult> {
  const args = [BARE, dir, ...(snapshot ? ['--snapshot', snapshot] : []), ...extra, ...words('BENCH_BARE_ARGS')];
  const [processMs, r] = await timed(() => execa(PYTHON, args, { reject: false, timeout: 600_000 }));
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  let out: Omit<BareResult, 'processMs'>;
  try {
    out = line ? (JSON.parse(line) as Omit<BareResult, 'processMs'>) : { ok: false, error: `no JSON line (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  } catch (e) {
    out = { ok: false, error: `not JSON: ${line} (${(e as Error).message})` };
  }
  if (!out.ok) process.stderr.write(`[bench] ${PYTHON} ${args.join(' ')}: ${out.error ?? out.problems?.join('; ') ?? 'failed'}\n`);
  return { ...out, processMs };
}

interface ModeFigures {
  arch: Arch;
  mode: 'fresh boot' | 'snapshot start';
  harness: HarnessRun;
  /** The rows that count: passed, and for snapshot start restored ones only. */
  counted: HarnessRow[];
  bare: BareResult[];
  /** The bare script waiting for as many beats as the harness checks (SAME_CHECKS). */
  bareSame: BareResult[];
  bareOn?: string;
  snapshot?: string;
  note?: string;
}

async function freshBoot(arch: Arch, root: string): Promise<ModeFigures> {
  const harness = await harnessRun(arch, true, join(root, `${arch}-harness-fresh`));
  const counted = harness.rows.filter((x) => x.row.outcome === 'passed');
  const on = counted[0]?.dir ?? harness.rows[0]?.dir;
  const bare: BareResult[] = [];
  const bareSame: BareResult[] = [];
  if (on) for (let i = 0; i < REPS; i++) (bare.push(await bareRun(on, undefined)), bareSame.push(await bareRun(on, undefined, SAME_CHECKS)));
  return { arch, mode: 'fresh boot', harness, counted, bare, bareSame, bareOn: on, note: on ? undefined : `no scenario row (see ${harness.log})` };
}

async function snapshotStart(arch: Arch, root: string): Promise<ModeFigures> {
  // The cache saves a configuration's snapshot on its second boot: a cold cache makes the
  // first repetitions boot. Then run again once, so that every counted repetition restored.
  let harness = await harnessRun(arch, false, join(root, `${arch}-harness-snapshot`));
  let note: string | undefined;
  const restoredOf = (h: HarnessRun) => h.rows.filter((x) => x.row.outcome === 'passed' && x.start === 'restored');
  if (restoredOf(harness).length < REPS && harness.rows.some((x) => x.row.outcome === 'passed')) {
    note = `snapshot cache was cold (${harness.rows.map((x) => x.start).join(', ')}): ran again`;
    process.stderr.write(`[bench] ${arch}: ${note}\n`);
    harness = await harnessRun(arch, false, join(root, `${arch}-harness-snapshot-again`));
  }
  const counted = restoredOf(harness);
  const snapshot = counted[0]?.snapshot ?? harness.rows.find((x) => x.snapshot)?.snapshot;
  const on = counted[0]?.dir ?? harness.rows.find((x) => x.row.outcome === 'passed')?.dir;
  const bare: BareResult[] = [];
  const bareSame: BareResult[] = [];
  if (on && snapshot) for (let i = 0; i < REPS; i++) (bare.push(await bareRun(on, snapshot)), bareSame.push(await bareRun(on, snapshot, SAME_CHECKS)));
  else note = [note, `no snapshot file to start the bare script from (source starts: ${harness.rows.map((x) => x.start).join(', ') || 'none'}; see ${harness.log})`].filter(Boolean).join('; ');
  return { arch, mode: 'snapshot start', harness, counted, bare, bareSame, bareOn: on, snapshot, note };
}

/** The beats the harness waits for: 3 on the source once ready, 30 on the destination (its liveness check). */
const SAME_CHECKS = ['--src-beats', '3', '--dst-beats', '30'];

export async function overheadSection(arches: Arch[]): Promise<void> {
  const root = join(artifactsRoot(), `bench-overhead-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const figures: ModeFigures[] = [];
  for (const arch of arches) {
    figures.push(await freshBoot(arch, root));
    figures.push(await snapshotStart(arch, root));
  }

  const rows = figures.map((f) => {
    const okBare = f.bare.filter((b) => b.ok);
    const hWall = median(f.counted.map((x) => x.row.wallMs));
    const bWall = median(okBare.map((b) => b.wallMs));
    const sameWall = median(f.bareSame.filter((b) => b.ok).map((b) => b.wallMs));
    const n = f.harness.rows.length;
    return [
      f.arch,
      f.mode,
      `${s(hWall)} (${f.counted.length}/${n})`,
      `${s(f.harness.cliMs)} (${s(n ? f.harness.cliMs / n : undefined)}/rep)`,
      `${s(bWall)} (${okBare.length}/${f.bare.length})`,
      s(median(okBare.map((b) => b.processMs))),
      hWall !== undefined && bWall ? `${(hWall / bWall).toFixed(2)}x` : '-',
      hWall !== undefined && bWall !== undefined ? s(hWall - bWall) : '-',
      `${s(sameWall)} (${f.bareSame.filter((b) => b.ok).length}/${f.bareSame.length})`,
      hWall !== undefined && sameWall ? `${(hWall / sameWall).toFixed(2)}x` : '-',
      ms(median(f.counted.map((x) => x.row.guestDowntimeMs))),
      ms(median(okBare.map((b) => b.guestDowntimeMs))),
      ms(median(f.counted.map((x) => x.row.qemuTotalTimeMs))),
      ms(median(okBare.map((b) => b.qemuTotalTimeMs))),
    ];
  });
  const header = ['arch', 'start', 'harness wall (rows)', 'harness CLI process', 'bare wall (ok)', 'bare process', 'harness/bare', 'difference', 'bare, same checks', 'harness/same', 'guest downtime harness', 'bare', 'qemu total-time harness', 'bare'];
  console.log(`\nharness vs bare script: ${SUITE} "${SCENARIO}", median of ${REPS}`);
  console.log('harness wall = results.json wallMs (snapshot start: restored repetitions only); bare wall = bench/bare.py, first spawn to both QEMUs gone');
  console.log(`bare: 1 beat on each side; bare, same checks: ${SAME_CHECKS.join(' ')} (the beats the harness waits for; it also pings the guest agent on the source)`);
  console.log(table(header, rows));

  // Where the bare script's time goes.
  const phaseNames = ['boot', 'snapshotLoad', 'srcUp', 'dstListening', 'migrate', 'handover', 'quit'];
  const phaseRows = figures.map((f) => {
    const ok = f.bare.filter((b) => b.ok && b.phases);
    return [f.arch, f.mode, ...phaseNames.map((p) => ms(median(ok.map((b) => b.phases![p]))))];
  });
  console.log(`\nbare script phases, median (srcUp: spawn to the source's first beat, boot or load included; handover: migration completed to the destination's first beat)\n${table(['arch', 'start', ...phaseNames], phaseRows)}`);

  console.log('\nruns:');
  for (const f of figures) {
    console.log(`  ${f.arch} ${f.mode}: ${f.harness.command}  (exit ${f.harness.exitCode}; ${f.harness.log})`);
    if (f.bareOn) console.log(`  ${f.arch} ${f.mode}: ${PYTHON} bench/bare.py ${f.bareOn}${f.snapshot ? ` --snapshot ${f.snapshot}` : ''} ${words('BENCH_BARE_ARGS').join(' ')}`.trimEnd());
    if (f.note) console.log(`  ${f.arch} ${f.mode}: note: ${f.note}`);
    for (const b of f.bare.filter((x) => !x.ok)) console.log(`  ${f.arch} ${f.mode}: bare failed: ${b.error ?? b.problems?.join('; ')}`);
  }
}

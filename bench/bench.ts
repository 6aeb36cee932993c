/**
 * npm run bench: the speed figures users care about, measured, never asserted.
 *
 * Sections, all by default; BENCH_ONLY="overhead" (or a list: "image scenario") runs only those:
 *   image     per arch: image build cold (empty cache) and warm (bench/inprocess.ts);
 *   scenario  per arch: boot-to-ready, and a precopy scenario's wall time (pair up, migrate,
 *             liveness) in this process with a fresh boot and with snapshot start, against
 *             QEMU's own total-time (bench/inprocess.ts);
 *   overhead  per arch: the harness's scenario wall (`migtest run precopy-basic -t "over tcp"`,
 *             from results.json) against bench/bare.py doing the same steps on the same argv,
 *             with a fresh boot and with snapshot start, and the guest downtime of each
 *             (bench/overhead.ts);
 *   suites    BENCH_SUITES="precopy-basic postcopy-basic" times those suites (`migtest run`)
 *             both ways; BENCH_SUITES=all times `npm test`'s whole run both ways (long).
 *             Runs whenever BENCH_SUITES is set (and BENCH_ONLY, if set, names it).
 * Arches: the arguments (`npm run bench -- x86_64`), else every one. Repetitions: BENCH_REPS
 * (default 3). BENCH_RUN_ARGS: extra words for the overhead's `migtest run` (e.g. --qemu 11.1);
 * BENCH_BARE_ARGS: extra words for bare.py (e.g. --src-beats 3 --dst-beats 30, the harness's
 * counts); BENCH_PYTHON: the python to run it with (default python3); BENCH_MIGTEST: the
 * migtest CLI the overhead runs (default bin/migtest.mjs).
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { ARCHES, parseArch, type Arch } from '../harness/util/arch.js';
import { repoRoot } from '../harness/util/paths.js';
import { childEnv, s, timed, words } from './common.js';

const SECTIONS = ['image', 'scenario', 'overhead', 'suites'] as const;
type Section = (typeof SECTIONS)[number];

const only = words('BENCH_ONLY').flatMap((w) => w.split(',')).filter(Boolean);
for (const w of only) if (!(SECTIONS as readonly string[]).includes(w)) throw new Error(`BENCH_ONLY: '${w}' is not a section (${SECTIONS.join(', ')})`);
const wanted = (x: Section) => !only.length || only.includes(x);

const arches: Arch[] = process.argv.slice(2).length ? process.argv.slice(2).map((a) => parseArch(a)) : [...ARCHES];

// Each section's modules load only when it runs (BENCH_ONLY=overhead loads no in-process harness).
if (wanted('image')) await (await import('./inprocess.js')).imageSection(arches);
if (wanted('scenario')) await (await import('./inprocess.js')).scenarioSection(arches);
if (wanted('overhead')) await (await import('./overhead.js')).overheadSection(arches);

const suites = process.env.BENCH_SUITES?.trim();
if (suites && wanted('suites')) {
  // Whole suites through the CLI, as CI runs them, both ways.
  const args = suites === 'all' ? ['run', '--all'] : ['run', ...suites.split(/\s+/)];
  const out: string[] = [];
  for (const fresh of [true, false]) {
    const [t, r] = await timed(() =>
      // Each run gets its own run directory (not the bench's, which this process exported).
      execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), ...args, ...(fresh ? ['--fresh-boot'] : [])], { cwd: repoRoot, reject: false, extendEnv: false, env: { ...childEnv(), MIGTEST_QUIET: '1' } }),
    );
    const counts = /(\d+ passed, \d+ failed, \d+ skipped)/.exec(r.stdout)?.[1] ?? `exit ${r.exitCode}`;
    out.push(`${fresh ? 'fresh boot   ' : 'snapshot start'}  ${s(t)}  ${counts}`);
  }
  console.log(`\nsuites: ${suites}\n${out.join('\n')}`);
} else if (only.includes('suites')) console.log('\nsuites: BENCH_SUITES is not set (e.g. BENCH_SUITES="precopy-basic postcopy-basic")');

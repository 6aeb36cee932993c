import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bisect, expectedSteps, formatBisect, type BisectResult } from '../bisect/bisect.js';
import { checkGitInputs, gitBisect } from '../bisect/git.js';
import { candidateBuilds } from '../bisect/order.js';
import { forwardSignals, interruptedBy } from '../bisect/spawn.js';
import { SIDES, checkSelection, migtestStep, runStep, type ScenarioSelection, type Side } from '../bisect/step.js';
import { parseArch } from '../util/arch.js';
import { ConfigError, MigtestError } from '../util/errors.js';
import { artifactsRoot } from '../util/paths.js';
import { parsePattern } from './run.js';
import { suiteFiles } from './suites.js';

export interface BisectOptions {
  testNamePattern: string;
  good: string;
  bad: string;
  arch?: string;
  repeat?: string;
  side?: string;
  git?: string;
  build?: string;
  binary?: string;
}

/** --repeat of a bisect: 1 to 99 (odd numbers give no ties). */
export function parseBisectRepeat(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 99) throw new ConfigError('--repeat', `'${value}'`, 'a whole number from 1 to 99 (odd: no ties)');
  return n;
}

const line = (t: string) => void process.stderr.write(`${t}\n`);

/**
 * `migtest bisect SUITE -t SCENARIO --good X --bad Y`: every input checked (the suite, the
 * pattern selecting exactly one scenario, both builds or revisions) before anything runs or
 * is created; then a bisect of installed builds, or of a QEMU git tree (--git). Exit 0 when a
 * boundary was found, 1 when the endpoints do not hold (or a run failed), 2 for bad input,
 * 130 when interrupted. `program` (tests only): a node script run instead of bin/migtest.mjs.
 */
export async function bisectCommand(suite: string, opts: BisectOptions, program?: string): Promise<number> {
  suiteFiles([suite]);
  const pattern = parsePattern(opts.testNamePattern)!;
  const arch = parseArch(opts.arch ?? 'x86_64', '--arch');
  const repeat = parseBisectRepeat(opts.repeat);
  const side = (opts.side ?? 'both') as Side;
  if (!(SIDES as readonly string[]).includes(side)) throw new ConfigError('--side', `'${opts.side}'`, SIDES);
  if (opts.git === undefined && (opts.build !== undefined || opts.binary !== undefined))
    throw new ConfigError(opts.build !== undefined ? '--build' : '--binary', 'is for bisecting a QEMU git tree: give --git DIR too', ['--git DIR --build CMD [--binary PATH]', 'neither (installed builds)']);
  if (opts.git !== undefined && !opts.build?.trim()) throw new ConfigError('--build', 'is missing or empty: a git bisect builds each revision with it', 'a build command, e.g. "make -C build -j2 qemu-system-x86_64"');
  const binary = opts.binary ?? `build/qemu-system-${arch}`;
  if (opts.git !== undefined && (binary.startsWith('/') || !binary.trim())) throw new ConfigError('--binary', `'${binary}'`, `a path relative to the --git tree (default build/qemu-system-${arch})`);
  const sel: ScenarioSelection = { suite, pattern, arch };
  const git = opts.git === undefined ? undefined : await checkGitInputs(opts.git, opts.good, opts.bad);
  const builds = git ? undefined : await candidateBuilds(arch, opts.good, opts.bad);
  const scenario = await checkSelection(sel, program);

  const dir = join(artifactsRoot(), `bisect-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const what = `${scenario} (${arch}, QEMU on ${side === 'both' ? 'both sides' : `the ${side} only`}${repeat > 1 ? `, majority of ${repeat}` : ''})`;
  line(`[bisect] ${what}; its runs in ${dir}`);
  const stop = forwardSignals();
  let result: BisectResult & { subjects?: Record<string, string> };
  try {
    if (git) {
      result = await gitBisect({ cfg: { ...sel, dir: git.dir, build: opts.build!, binary, side, repeat, bisectDir: dir, program }, good: git.good, bad: git.bad, line });
    } else {
      line(`[bisect] ${builds!.length} builds from --good to --bad: ${builds!.map((b) => b.label).join(', ')} (about ${expectedSteps(builds!.length)} step(s) after the two endpoints)`);
      const run = migtestStep({ ...sel, side, dir, line, program });
      result = await bisect(builds!, async (b, role) => {
        line(`[bisect] ${role}: ${b.label} (${b.spec})`);
        const s = await runStep(b, repeat, run);
        line(`[bisect] ${b.label}: ${s.verdict} (${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''})`);
        return s;
      });
    }
  } catch (e) {
    const signal = interruptedBy();
    if (signal) {
      line(`migtest bisect: interrupted (${signal}); the runs so far: ${dir}`);
      return 130;
    }
    throw e;
  } finally {
    stop();
  }
  const lines = formatBisect(result, what);
  if (result.subjects) lines.push('commits tested:', ...Object.entries(result.subjects).map(([label, subject]) => `   ${label} ${subject}`));
  writeFileSync(join(dir, 'bisect.json'), `${JSON.stringify({ suite, pattern, scenario, arch, side, repeat, good: opts.good, bad: opts.bad, git: git?.dir, build: opts.build, binary: git ? binary : undefined, builds, result }, null, 2)}\n`);
  process.stdout.write(`${lines.join('\n')}\nbisect: ${resolve(dir, 'bisect.json')}\n`);
  if (interruptedBy()) throw new MigtestError(`interrupted (${interruptedBy()})`);
  return result.kind === 'endpoint' ? 1 : 0;
}

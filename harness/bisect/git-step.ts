import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { MigtestError } from '../util/errors.js';
import type { Build } from './order.js';
import { forwardSignals, interruptedBy, runStreaming } from './spawn.js';
import { migtestStep, runStep, type ScenarioSelection, type Side, type StepResult, type Verdict } from './step.js';

/** What one `git bisect run` step needs, written by the bisect as JSON beside its runs. */
export interface GitStepConfig extends ScenarioSelection {
  /** The QEMU source tree (absolute). */
  dir: string;
  /** The user's build command, run as `sh -c CMD` in dir. */
  build: string;
  /** The built binary, relative to dir. */
  binary: string;
  side: Side;
  repeat: number;
  /** The bisect's directory: build logs, run directories, steps.jsonl. */
  bisectDir: string;
  /** Tests only: a node script run instead of bin/migtest.mjs (it starts no QEMU). */
  program?: string;
}

/** One tested revision, as steps.jsonl records it. */
export interface RevisionStep {
  sha: string;
  result: StepResult;
}

/** git's exit-code contract for `git bisect run`: 0 good, 1 bad, 125 cannot be tested. */
export const EXIT: Record<Verdict, number> = { good: 0, bad: 1, skip: 125 };
/** 128 or more stops `git bisect run` altogether (a refusal, an interruption). */
export const EXIT_ABORT = 128;

export const stepsFile = (bisectDir: string) => join(bisectDir, 'steps.jsonl');

async function head(dir: string): Promise<string> {
  const r = await execa('git', ['rev-parse', 'HEAD'], { cwd: dir, reject: false });
  if (r.exitCode !== 0) throw new MigtestError(`git rev-parse HEAD in ${dir} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * The revision checked out in dir: built with the user's command (`sh -c`, in dir: their own
 * command on their own machine, as they would type it), its binary found, then the scenario
 * run on it (`repeat` times, the majority decides). A build that fails, or leaves no binary,
 * is a skip: that revision says nothing about the bug.
 */
export async function testCheckout(cfg: GitStepConfig, line: (t: string) => void): Promise<RevisionStep> {
  const sha = await head(cfg.dir);
  const short = sha.slice(0, 12);
  const binary = resolve(cfg.dir, cfg.binary);
  const build: Build = { label: short, version: '', spec: binary, path: binary, source: 'build' };
  const skip = (reason: string): RevisionStep => ({ sha, result: { build, verdict: 'skip', passed: 0, failed: 0, skipped: 1, attempts: [{ outcome: 'skipped', reason }] } });
  const log = join(cfg.bisectDir, `build-${short}.log`);
  const says = `sh -c ${JSON.stringify(cfg.build)} in ${cfg.dir} at ${sha}`;
  writeFileSync(log, `${says}\n`);
  line(`[${short} build] ${says} (log ${log})`);
  const built = await runStreaming(['sh', '-c', cfg.build], {
    cwd: cfg.dir,
    env: { ...process.env, MIGTEST_BISECT_REV: sha },
    line: (t) => line(`[${short} build] ${t}`),
    logFile: log,
  });
  if (interruptedBy()) throw new MigtestError(`interrupted (${interruptedBy()}) while building ${short}`);
  if (built.code !== 0) return skip(`the build failed (exit ${built.code}); its log: ${log}`);
  if (!existsSync(binary)) return skip(`the build left no ${cfg.binary} in ${cfg.dir} (--binary names it)`);
  const run = migtestStep({ ...cfg, dir: cfg.bisectDir, line });
  return { sha, result: await runStep(build, cfg.repeat, run) };
}

/** `git bisect run` calls this (through git-step.mjs) on each revision it checks out; returns the exit code. */
export async function gitStepMain(configFile: string): Promise<number> {
  const stop = forwardSignals();
  try {
    const cfg = JSON.parse(readFileSync(configFile, 'utf8')) as GitStepConfig;
    const line = (t: string) => process.stderr.write(`${t}\n`);
    const step = await testCheckout(cfg, line);
    appendFileSync(stepsFile(cfg.bisectDir), `${JSON.stringify(step)}\n`);
    line(`[${step.sha.slice(0, 12)}] ${step.result.verdict} (${step.result.passed} passed, ${step.result.failed} failed, ${step.result.skipped} skipped)`);
    return EXIT[step.result.verdict];
  } catch (e) {
    process.stderr.write(`migtest bisect step: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_ABORT;
  } finally {
    stop();
  }
}

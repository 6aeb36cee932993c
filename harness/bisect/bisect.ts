import type { Build } from './order.js';
import { counts, type StepResult } from './step.js';

/** What a bisect found. */
export interface BisectResult {
  /**
   * found: lastGood and firstBad are neighbours in the list. range: builds between them could
   * not be tested (skip), so the first bad is one of `untested` or firstBad. endpoint: --good
   * does not pass or --bad does not fail, and nothing was searched.
   */
  kind: 'found' | 'range' | 'endpoint';
  /** Every step, in the order run. */
  steps: StepResult[];
  lastGood?: StepResult;
  firstBad?: StepResult;
  untested: Build[];
  /** kind endpoint: what did not hold. */
  problem?: string;
}

/** Tests one build (all its attempts) and gives its verdict. */
export type TestBuild = (build: Build, role: 'good endpoint' | 'bad endpoint' | 'step') => Promise<StepResult>;

/**
 * Binary search over builds ordered from the good one to the bad one. The endpoints are
 * tested first: --good must pass and --bad must fail, else it stops and says which did not.
 * Then it halves the span between the last good and the first bad; a build that is a skip
 * is set aside and its untested neighbour nearest the middle is tried instead.
 */
export async function bisect(builds: Build[], test: TestBuild): Promise<BisectResult> {
  if (builds.length < 2) throw new Error('bisect: needs two builds at least');
  const steps: StepResult[] = [];
  const run = async (b: Build, role: Parameters<TestBuild>[1]) => {
    const s = await test(b, role);
    steps.push(s);
    return s;
  };
  const good = await run(builds[0]!, 'good endpoint');
  if (good.verdict !== 'good')
    return { kind: 'endpoint', steps, untested: [], problem: `--good ${good.build.label} did not pass (${counts(good)})${good.verdict === 'skip' ? `: ${good.attempts.find((a) => a.reason)?.reason ?? 'skipped'}` : ''}; a bisect needs a build where the scenario passes` };
  const bad = await run(builds.at(-1)!, 'bad endpoint');
  if (bad.verdict !== 'bad')
    return { kind: 'endpoint', steps, untested: [], problem: `--bad ${bad.build.label} did not fail (${counts(bad)})${bad.verdict === 'skip' ? `: ${bad.attempts.find((a) => a.reason)?.reason ?? 'skipped'}` : ''}; a bisect needs a build where the scenario fails` };
  const results = new Map<number, StepResult>([[0, good], [builds.length - 1, bad]]);
  let lo = 0;
  let hi = builds.length - 1;
  const skipped = new Set<number>();
  for (;;) {
    const next = pick(lo, hi, skipped);
    if (next === undefined) break;
    const s = await run(builds[next]!, 'step');
    results.set(next, s);
    if (s.verdict === 'good') lo = next;
    else if (s.verdict === 'bad') hi = next;
    else skipped.add(next);
  }
  const untested = builds.slice(lo + 1, hi);
  return { kind: untested.length ? 'range' : 'found', steps, lastGood: results.get(lo), firstBad: results.get(hi), untested };
}

/** The untested index strictly between lo and hi nearest their middle (the lower on a tie), if any. */
export function pick(lo: number, hi: number, skipped: Set<number>): number | undefined {
  const open = Array.from({ length: Math.max(0, hi - lo - 1) }, (_, i) => lo + 1 + i).filter((i) => !skipped.has(i));
  const mid = (lo + hi) / 2;
  return open.sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid) || a - b)[0];
}

/** About how many steps the search takes after the endpoints. */
export const expectedSteps = (n: number) => (n > 2 ? Math.ceil(Math.log2(n - 1)) : 0);

const dirOf = (a: StepResult['attempts'][number]) => a.artifacts ?? a.runDir;

/** A step as a line: the build, its verdict and counts, and where its (first) run is. */
export function stepLine(s: StepResult): string {
  const dirs = s.attempts.map(dirOf).filter(Boolean);
  return `${s.build.label}: ${s.verdict} (${counts(s)})${dirs.length ? ` ${dirs[0]}${dirs.length > 1 ? ` (+${dirs.length - 1} more)` : ''}` : ''}`;
}

/** Each attempt of a boundary step: its outcome, its artifacts, why it failed or skipped. */
const attemptLines = (s: StepResult) =>
  s.attempts.map((a) => `   ${a.outcome}: ${dirOf(a) ?? '(no artifacts)'}${a.outcome !== 'passed' && a.reason ? `\n     ${a.reason}` : ''}`);

/** The result in lines for the user: every step, then the boundary with both runs' artifacts. */
export function formatBisect(r: BisectResult, what: string): string[] {
  const lines = [`bisect of ${what}: ${r.steps.length} build(s) tested`, ...r.steps.map((s, i) => `  ${i + 1}. ${stepLine(s)}`)];
  if (r.kind === 'endpoint') return [...lines, `no bisect: ${r.problem}`];
  const untested = r.untested.map((b) => b.label);
  lines.push(r.kind === 'found' ? `first bad: ${r.firstBad!.build.label} (${counts(r.firstBad!)})` : `first bad: one of ${[...untested, r.firstBad!.build.label].join(', ')} (${untested.join(', ')} could not be tested: skipped)`);
  lines.push(...attemptLines(r.firstBad!));
  lines.push(`last good: ${r.lastGood!.build.label} (${counts(r.lastGood!)})`, ...attemptLines(r.lastGood!));
  const flaky = r.steps.filter((s) => s.passed && s.failed);
  if (flaky.length) lines.push(`flaky: ${flaky.map((s) => `${s.build.label} (${counts(s)})`).join('; ')}: a tie counts as bad; a larger --repeat makes the majority firmer`);
  return lines;
}

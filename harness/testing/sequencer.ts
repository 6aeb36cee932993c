import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Measured seconds per suite file (config/suite-costs.json), written by bench/suite-costs.ts. */
export const COSTS_FILE = 'config/suite-costs.json';

export function readCosts(root: string): Record<string, number> {
  const parsed = JSON.parse(readFileSync(join(root, COSTS_FILE), 'utf8')) as { seconds?: Record<string, unknown> };
  const out: Record<string, number> = {};
  for (const [file, s] of Object.entries(parsed.seconds ?? {})) if (typeof s === 'number' && s >= 0) out[file] = s;
  return out;
}

/**
 * The longest first (a file with no figure counts as longest: a new suite may be long), ties
 * in their given order. With N workers taking files from one queue in this order, the last
 * file to start is a short one, so no worker idles through a long tail while another has
 * work queued. Pure.
 */
export function longestFirst<T>(items: T[], costOf: (t: T) => number | undefined): T[] {
  const cost = (t: T) => costOf(t) ?? Number.POSITIVE_INFINITY;
  return items.map((t, i) => ({ t, i })).sort((a, b) => cost(b.t) - cost(a.t) || a.i - b.i).map((x) => x.t);
}

/**
 * vitest orders files by its own cache of durations, or by file size on a clean checkout: a
 * 15-line suite file holding 8 minutes of cross-version pairs then starts last, and one
 * worker runs it alone. This orders each project's files by the measured costs instead.
 */
export default class CostSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const root = this.ctx.config.root;
    let costs: Record<string, number> = {};
    try {
      costs = readCosts(root);
    } catch {
      // No table (a checkout without config/): vitest's own order.
      return base;
    }
    // vitest's groups (group order, then project) stay as it ordered them; files move within one.
    const group = (f: TestSpecification) => `${f.project.config.sequence.groupOrder}\0${f.project.name}`;
    return [...new Set(base.map(group))].flatMap((g) => longestFirst(base.filter((f) => group(f) === g), (f) => costs[relative(root, f.moduleId)]));
  }
}

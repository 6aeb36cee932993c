import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { longestFirst, readCosts } from './sequencer.js';
import { repoRoot } from '../util/paths.js';

describe('longestFirst', () => {
  it('orders by cost, the unknown first, ties as given', () => {
    const costs: Record<string, number> = { a: 10, b: 300, c: 10, d: 50 };
    expect(longestFirst(['a', 'b', 'c', 'd', 'new'], (f) => costs[f])).toEqual(['new', 'b', 'd', 'a', 'c']);
  });
});

describe('config/suite-costs.json', () => {
  it('names only suite files that exist, each with seconds', () => {
    const costs = readCosts(repoRoot);
    expect(Object.keys(costs).length).toBeGreaterThan(10);
    for (const [file, s] of Object.entries(costs)) {
      expect(existsSync(join(repoRoot, file)), file).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
    }
  });
});

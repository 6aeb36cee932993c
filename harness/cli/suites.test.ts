import { describe, expect, it } from 'vitest';
import { NEWEST_ONLY_SUITES, VERSION_PINNED_SUITES, availableSuites, rotationSuites } from './suites.js';

describe('rotationSuites', () => {
  it('covers every suite but the pinned ones over k shares, each once, and the newest-only ones in every share', () => {
    const shares = [1, 2, 3, 4].map((i) => rotationSuites(`${i}/4`).suites);
    const eligible = availableSuites().filter((s) => !VERSION_PINNED_SUITES.includes(s));
    for (const name of eligible) {
      const n = shares.filter((s) => s.includes(name)).length;
      expect(n, name).toBe(NEWEST_ONLY_SUITES.includes(name) ? 4 : 1);
    }
    for (const s of shares) for (const pinned of VERSION_PINNED_SUITES) expect(s).not.toContain(pinned);
  });
  it('rotates among the suites named, in their order, and only those', () => {
    const named = ['precopy-basic', 'postcopy-recovery', 'disk-io', 'runstate', 'snapshots'];
    expect([1, 2, 3].map((i) => rotationSuites(`${i}/3`, new Date(), named).suites)).toEqual([['precopy-basic', 'runstate'], ['postcopy-recovery', 'snapshots'], ['disk-io']]);
    // Today's share by the UTC day: day 0 is share 1.
    expect(rotationSuites('3', new Date(0), named)).toEqual({ share: '1/3', suites: ['precopy-basic', 'runstate'] });
  });
});

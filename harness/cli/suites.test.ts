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
});

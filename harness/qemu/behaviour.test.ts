import { describe, expect, it } from 'vitest';
import { versionMatches } from './catalog.js';
import { behaviourOf, KNOWN_FAILURES } from './behaviour.js';

describe('KNOWN_FAILURES agrees with the behaviour table', () => {
  it('secondMigrateWhileCancelling names exactly the versions whose second migrate is refused', () => {
    for (const v of ['5.2.0', '7.2.22', '9.2.0', '10.0.2', '10.0.13', '10.1.0', '10.2.1', '11.0.0', '11.1.3', '11.2.0']) {
      const known = KNOWN_FAILURES.secondMigrateWhileCancelling.versions.some((p) => versionMatches(v, p));
      expect(known, v).toBe(behaviourOf(v).cancelWhileConnecting.secondMigrateWords === 'duplicate yank instance');
    }
  });
});

import { describe } from 'vitest';
import { deviceCases, machineTypeCase } from '../harness/compat/devices.js';
import { runPairCase } from '../harness/compat/run.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';

// A destination set up differently from its source: QEMU's own words from the side that
// fails, the source running on with intact RAM, and a retry to a matching destination.
// (postcopy-ram on one side only is in postcopy-rules.)
for (const arch of testArches()) {
  const cases = [...deviceCases(arch), await machineTypeCase(arch)];
  describe(`device-mismatch ${arch}`, () => {
    for (const c of cases) scenario(c.id, { suite: 'device-mismatch', arch }, async (ctx) => void (await runPairCase(c, ctx)));
  });
}

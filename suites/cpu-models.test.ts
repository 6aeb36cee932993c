import { describe } from 'vitest';
import { cpuCases } from '../harness/compat/cpus.js';
import { runPairCase } from '../harness/compat/run.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';

// CPU models and smm differing between source and destination: what QEMU does, asserted.
for (const arch of testArches()) {
  describe(`cpu-models ${arch}`, () => {
    for (const c of cpuCases(arch)) scenario(c.id, { suite: 'cpu-models', arch }, async (ctx) => void (await runPairCase(c, ctx)));
  });
}

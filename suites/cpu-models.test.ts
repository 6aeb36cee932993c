import { describe } from 'vitest';
import { cpuCases } from '../harness/compat/cpus.js';
import { testArches } from '../harness/testing/arches.js';
import { caseScenario } from '../harness/testing/scenario.js';

// CPU models and smm differing between source and destination: what QEMU does, asserted.
for (const arch of testArches()) {
  describe(`cpu-models ${arch}`, () => {
    for (const c of cpuCases(arch)) caseScenario(c, { suite: 'cpu-models', arch });
  });
}

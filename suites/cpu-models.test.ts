import { describe } from 'vitest';
import { caseScenario, cpuCases, testArches } from '../harness/index.js';

// CPU models and smm differing between source and destination: what QEMU does, asserted.
for (const arch of testArches()) {
  describe(`cpu-models ${arch}`, () => {
    for (const c of cpuCases(arch)) caseScenario(c, { suite: 'cpu-models' });
  });
}

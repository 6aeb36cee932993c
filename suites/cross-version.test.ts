import { describe } from 'vitest';
import { caseScenario, crossVersionCases, runQemu, runAccel, scenario, testArches } from '../harness/index.js';

// QEMU 7.2 (fetched) and the system QEMU (10.0) both ways: x86 migrates on a versioned
// machine type both know; Arm under TCG is refused by the destination's CPU (its register
// list changed between versions); the newer source's newest type cannot go back at all:
// the older destination does not even start. Where it migrates, liveness and RAM are checked.
for (const arch of testArches()) {
  const accel = (await runAccel((await runQemu(arch)).src)).accel;
  const { cases, missing } = await crossVersionCases(arch, accel);
  describe(`cross-version ${arch}`, () => {
    if (missing) scenario('QEMU versions', { suite: 'cross-version', arch }, async (ctx) => ctx.skip(missing));
    for (const c of cases) caseScenario(c, { suite: 'cross-version' });
  });
}

import { describe, expect } from 'vitest';
import { DEFAULT_WORKLOAD } from '../harness/case/run.js';
import { deviceCases, machineTypeCase } from '../harness/compat/devices.js';
import { assertSourceIntact } from '../harness/migration/checks.js';
import { migrate } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { testArches } from '../harness/testing/arches.js';
import { caseScenario, scenario } from '../harness/testing/scenario.js';
import { QemuExitedError } from '../harness/vm/errors.js';

// A destination set up differently from its source: QEMU's own words from the side that
// fails, the source running on with intact RAM, and a retry to a matching destination.
// (postcopy-ram on one side only is in postcopy-rules.)
for (const arch of testArches()) {
  const cases = [...deviceCases(arch), await machineTypeCase(arch)];
  describe(`device-mismatch ${arch}`, () => {
    for (const c of cases) caseScenario(c, { suite: 'device-mismatch', arch });
  });

  // Why the cases above run with return-path: without it the source cannot hear the refusal.
  describe(`device-mismatch ${arch} without return-path`, () => {
    const RNG = 'virtio-rng-pci,id=rng0,bus=pcie.0,addr=0xc';
    scenario('the source believes a refused migration completed; resumed with cont it runs on', { suite: 'device-mismatch', arch, oneHost: 'starts its pair by hand on this machine, not through the declarative case' }, async (ctx) => {
      const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, DEFAULT_WORKLOAD, {
        configure: (b) => b.withDevice(RNG),
        configureDst: (b) => b.withoutDevice(RNG),
      });
      // The source completes; the harness, waiting for the destination to run, reports it gone.
      const err = await migrate(src, dst).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(QemuExitedError);
      expect(err!.message).toMatch(/dst: QEMU exited \(exit code 1\) while the harness waited for it to run the guest after the source reported completed/);
      expect(src.lastMigrationStatus).toBe('completed');
      expect((await src.status()).status).toBe('postmigrate');
      const said = dst.stderrText().trim();
      expect(said).toContain("Unknown savevm section or instance '0000:00:0c.0/virtio-rng' 0");
      // What libvirt does when Finish fails: resume the source (Confirm with failure).
      await src.qmp.execute('cont');
      await assertSourceIntact(src, ram);
      return { verdict: 'source said completed, destination refused', extra: { destinationSaid: said.split('\n')[0] } };
    });
  });
}

import { describe, expect } from 'vitest';
import { assertSourceIntact } from '../harness/migration/checks.js';
import { migrate } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { QemuExitedError } from '../harness/vm/errors.js';
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

// Why the cases above run with return-path: without it the source cannot hear the refusal.
for (const arch of testArches()) {
  describe(`device-mismatch ${arch} without return-path`, () => {
    scenario('the source believes a refused migration completed; resumed with cont it runs on', { suite: 'device-mismatch', arch }, async (ctx) => {
      const { src, dst, ram } = await startPairWithRam(ctx.vms, arch, { mib: 32, rateMiBs: 16 }, {
        configure: (b) => b.withDevice('virtio-rng-pci,id=rng0,bus=pcie.0,addr=0xc'),
        configureDst: (b) => b.withIncoming().withoutDevice('virtio-rng-pci,id=rng0,bus=pcie.0,addr=0xc'),
      });
      // The source completes; the harness, waiting for the destination to run, reports it gone.
      const err = await migrate(src, dst).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(QemuExitedError);
      expect(err!.message).toMatch(/dst: QEMU exited \(exit code 1\) while the harness waited for it to run the guest after the source reported completed/);
      expect(src.lastMigrationStatus).toBe('completed');
      expect((await src.status()).status).toBe('postmigrate');
      const said = dst.stderrText().trim();
      expect(said).toContain("Unknown savevm section or instance '0000:00:0c.0/virtio-rng' 0");
      ctx.result.verdict = 'source said completed, destination refused';
      ctx.result.extra = { destinationSaid: said.split('\n')[0] };
      // What libvirt does when Finish fails: resume the source (Confirm with failure).
      await src.qmp.execute('cont');
      await assertSourceIntact(src, ram);
    });
  });
}

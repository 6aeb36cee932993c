import { describe, expect } from 'vitest';
import { caseScenario, testArches } from '../harness/index.js';

// Checkpoint-and-restart modes: a new QEMU on the same host takes the guest over with its RAM
// kept in place, not copied. cpr-transfer (10.0+): the memory's file descriptors cross a unix
// socket to the new QEMU, which starts with the migration (harness/case/drivers/cpr-transfer.ts).
// Under TCG as under KVM; qtest registers these only with KVM, for its own reasons.
describe.each(testArches())('cpr %s', (arch) => {
  const meta = { suite: 'cpr' };
  caseScenario({ id: 'cpr-transfer: a new QEMU takes the guest over, its RAM kept in place (not sent), liveness and RAM checked', arch, migration: { mode: 'cpr-transfer' } }, meta, ({ figures, ram }) => {
    // The RAM pages stayed where they were: a few device pages cross, not the 256 MiB guest.
    expect(figures.transferredBytes!).toBeLessThan(4 << 20);
    expect(ram!.pages).toBeGreaterThan(0);
    return { extra: { transferredBytes: figures.transferredBytes } };
  });
});

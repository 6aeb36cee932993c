import { describe, expect } from 'vitest';
import { caseScenario, testArches } from '../harness/index.js';

// Checkpoint-and-restart modes: a new QEMU on the same host takes the guest over with its RAM
// kept in place, not copied. cpr-transfer (10.0+): the memory's file descriptors cross a unix
// socket to the new QEMU, which starts with the migration (harness/case/drivers/cpr-transfer.ts).
// cpr-exec (10.2+): the old QEMU execs the new one in place (harness/case/drivers/cpr-exec.ts).
// Under TCG as under KVM; qtest registers these only with KVM, for its own reasons.
describe.each(testArches())('cpr %s', (arch) => {
  const meta = { suite: 'cpr' };
  caseScenario({ id: 'cpr-transfer: a new QEMU takes the guest over, its RAM kept in place (not sent), liveness and RAM checked', arch, migration: { mode: 'cpr-transfer' } }, meta, ({ figures, ram }) => {
    // The RAM pages stayed where they were: a few device pages cross, not the 256 MiB guest.
    expect(figures.transferredBytes!).toBeLessThan(4 << 20);
    expect(ram!.pages).toBeGreaterThan(0);
    return { extra: { transferredBytes: figures.transferredBytes } };
  });
  caseScenario({ id: 'cpr-exec: QEMU execs the new QEMU in its own process (same pid), RAM kept in place, liveness and RAM checked', arch, migration: { mode: 'cpr-exec' } }, meta, ({ figures, ram, run }) => {
    // One process from start to end: the new QEMU is the old one's pid, its state file small.
    expect(run.dst.process.pid).toBe(run.src.process.pid);
    expect(run.src.handedOverTo).toBe(run.dst.name);
    expect(figures.transferredBytes!).toBeLessThan(4 << 20);
    expect(ram!.pages).toBeGreaterThan(0);
    return { extra: { transferredBytes: figures.transferredBytes, pid: run.dst.process.pid } };
  });
  caseScenario(
    {
      id: 'cpr-exec into a binary that does not exist: the migration fails, the old QEMU runs on with its RAM intact, a retry succeeds',
      arch,
      migration: { mode: 'cpr-exec', parameters: { 'cpr-exec-command': [`/nonexistent/qemu-system-${arch}`, '-incoming', 'defer'] } },
      expect: { kind: 'fails', status: 'failed', why: 'the exec failed, so the source keeps the guest' },
    },
    meta,
    ({ run, retry }) => {
      expect(run.src.stderrText()).toMatch(/execvp \/nonexistent\/qemu-system-\S+ failed: No such file or directory/);
      expect(run.src.handedOverTo).toBeUndefined();
      expect(retry).toBeDefined();
    },
  );
});

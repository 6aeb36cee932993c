import { describe, expect } from 'vitest';
import { caseScenario, RamIntegrityError, RamWorkload, scenario, testArches, VmBuilder, writeGuestPhysical } from '../harness/index.js';

// The RAM checker must be able to fail: a page really corrupted in guest memory (through
// QEMU's gdbstub, physical-memory mode) after switchover is caught; the control run (same
// guest and workload, no migration) passes.
const WORKLOAD = { mib: 32, rateMiBs: 16 };

describe.each(testArches())('ram-checker %s', (arch) => {
  scenario('control: same guest and workload without migration is consistent', { suite: 'ram-checker', arch, oneHost: 'a control run: one VM, no migration' }, async (ctx) => {
    const vm = await ctx.vms.start(new VmBuilder('src', arch));
    await vm.waitReady();
    const ram = await RamWorkload.start(vm, WORKLOAD);
    const first = await ram.check(vm);
    // At least one whole pass between the two checks (32 MiB at 16 MiB/s: about 2 s).
    await ram.waitForPass(vm, first.passes + 1);
    const second = await ram.check(vm);
    // The workload kept running between the two checks.
    expect(second.passes).toBeGreaterThan(first.passes);
    return { extra: { passes: second.passes, pages: second.pages } };
  });

  caseScenario({ id: 'mutation: a page corrupted on the destination is caught', arch, workload: WORKLOAD }, { suite: 'ram-checker' }, async ({ run, ram: before }) => {
    const page = 1234;
    await writeGuestPhysical(run.dst, run.ram!.physAddr(page), Buffer.from([(before!.value + 77) & 255]));
    const err = await run.ram!.check(run.dst).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RamIntegrityError);
    expect((err as Error).message).toMatch(new RegExp(`page ${page} \\(frame 0x[0-9a-f]+\\)`));
    return { extra: { caught: (err as Error).message } };
  });
});

import { describe, expect, it } from 'vitest';
import { kernelCrash } from './crash.js';

describe('kernelCrash', () => {
  it('finds an x86 oops and quotes it without the time stamp', () => {
    const log = [
      '[    1.000000] Run /init as init process',
      'READY',
      '[    8.512345] BUG: unable to handle page fault for address: ffff888012345678',
      '[    8.512400] #PF: supervisor read access in kernel mode',
      '[    8.512500] Oops: 0000 [#1] PREEMPT SMP NOPTI',
      '[    8.512600] RIP: 0010:kmem_cache_alloc_lru+0x8f/0x2a0',
    ].join('\n');
    const c = kernelCrash(log)!;
    expect(c.line).toBe('BUG: unable to handle page fault for address: ffff888012345678');
    expect(c.excerpt).toContain('RIP: 0010:kmem_cache_alloc_lru+0x8f/0x2a0');
  });
  it('finds an arm64 one', () => {
    expect(kernelCrash('[ 3.1] Unable to handle kernel paging request at virtual address 0000dead\n[ 3.2] Internal error: Oops: 96000004 [#1] SMP')!.line).toMatch(/^Unable to handle kernel paging request/);
  });
  it('counts a stall or a soft lockup, unless only a death is asked for (a busy host can cause them)', () => {
    const log = '[ 21.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]\n[ 40.2] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:';
    expect(kernelCrash(log)!.line).toMatch(/^watchdog: BUG: soft lockup/);
    expect(kernelCrash(log, 6, true)).toBeUndefined();
    expect(kernelCrash(`${log}\n[ 41.0] Kernel panic - not syncing: Fatal exception`, 6, true)!.line).toMatch(/^Kernel panic/);
  });
  it('leaves a healthy console alone', () => {
    expect(kernelCrash('[    0.000000] Linux version 6.1.0\nREADY\nmigtest: heartbeat 1\n')).toBeUndefined();
  });
  it("leaves the EFI stub's complaints about its loader alone (shim on arm64: it moves the kernel and boots on)", () => {
    const stub = 'EFI stub: ERROR: FIRMWARE BUG: kernel image not aligned on 64k boundary\nEFI stub: ERROR: FIRMWARE BUG: Image BSS overlaps adjacent EFI memory region\n';
    expect(kernelCrash(stub, 6, true)).toBeUndefined();
    expect(kernelCrash(`${stub}[ 3.0] BUG: kernel NULL pointer dereference, address: 0000000000000000`, 6, true)!.line).toMatch(/^BUG: kernel NULL pointer/);
  });
});

describe('firmwareCrash', () => {
  it("finds EDK II's exception report behind the console's escape sequences, and nothing in a normal boot", async () => {
    const { firmwareCrash } = await import('./crash.js');
    const log = '\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01H!!!! X64 Exception Type - 06(#UD - Invalid Opcode)  CPU Apic ID - 00000000 !!!!\nRIP  - 0000000000030001, CS  - 0000000000000038\n';
    expect(firmwareCrash(log)?.excerpt).toEqual(['!!!! X64 Exception Type - 06(#UD - Invalid Opcode)  CPU Apic ID - 00000000 !!!!', 'RIP  - 0000000000030001, CS  - 0000000000000038']);
    expect(firmwareCrash('\x1b[2J\x1b[01;01H[    0.000000] Linux version 6.1.0\nREADY\n')).toBeUndefined();
  });
});

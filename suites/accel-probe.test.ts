import { describe, expect } from 'vitest';
import { DEADLINES, runQemu, probeBoot, scenario, testArches } from '../harness/index.js';

// The accelerator probe boots what a run will boot: the default kernel, to its first console
// line, with the run's CPU model. Under KVM it decides whether KVM is used; here it is shown
// to work (under TCG, the accelerator every host has) and to say which step failed.
describe.each(testArches())('accel-probe %s', (arch) => {
  scenario("boots the default kernel to its first console line with the run's CPU model", { suite: 'accel-probe', arch, oneHost: "probes this machine's accelerator and CPU models" }, async () => {
    const r = await probeBoot((await runQemu(arch)).src, 'tcg');
    expect(r, r.detail).toMatchObject({ ok: true });
    expect(r.detail).toContain('the default kernel to its first console line with -cpu');
    return { extra: { probe: r.detail } };
  });

  if (arch === 'x86_64')
    // A 32-bit CPU model: the boot sector runs, the 64-bit kernel never reaches its console.
    // The probe must name the kernel step, not pass on the boot sector.
    scenario('a CPU model the kernel cannot boot on fails at the kernel step, named', { suite: 'accel-probe', arch, oneHost: "probes this machine's accelerator and CPU models" }, async () => {
      const r = await probeBoot((await runQemu(arch)).src, 'tcg', { cpu: 'pentium', timeoutMs: DEADLINES.expectedToFail });
      expect(r.ok).toBe(false);
      expect(r.detail).toMatch(/^the default kernel to its first console line with -cpu pentium: (hung|QEMU exited)/);
      expect(r.detail).toContain('(a boot sector with -cpu pentium passed)');
      return { extra: { probe: r.detail } };
    });
});

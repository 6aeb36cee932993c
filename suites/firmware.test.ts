import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import {
  caseRow, caseScenario, efiState, KNOWN_FAILURES, readEfiVariable, refusedStream, runAccel, runConfig, runCase, runQemu, scenario, storedName, testArches, uefiFirmware, unknownSectionWords, writeEfiVariable,
  type Arch, type CaseReport, type MigrationCase, type ScenarioContext,
} from '../harness/index.js';

// Guests booted by UEFI firmware (OVMF on x86_64, AAVMF on aarch64) from pflash, each VM with
// a variable store of its own: the firmware's state migrates with the guest (an EFI variable
// set on the source reads back on the destination), the destination's QEMU writes it to its
// own store, and Secure Boot stays on. The kernel boots through its EFI stub; under
// uefi-secure it is signed with the test key the store enrolls.

/** The variable store checks: the guest's view on the destination, then each side's store file. */
async function storesCheck(arch: Arch, firmware: 'uefi' | 'uefi-secure', probe: string, { run }: CaseReport, ctx: ScenarioContext): Promise<void> {
  expect(await efiState(run.dst)).toEqual({ efi: true, secureBoot: firmware === 'uefi-secure' });
  expect(await readEfiVariable(run.dst, 'MigtestProbe')).toBe(probe);
  // The destination's firmware keeps working: a variable set there lands in its store alone.
  await writeEfiVariable(run.dst, 'MigtestAfter', 'dst');
  expect(await readEfiVariable(run.dst, 'MigtestAfter')).toBe('dst');
  const template = readFileSync(uefiFirmware(arch, firmware)!.varsTemplate);
  expect(template.includes(storedName('MigtestProbe')), 'the template is never written').toBe(false);
  if (run.src.host || run.dst.host) return ctx.record({ extra: { firmware, probe, stores: 'not read: a side is on another host' } });
  const [src, dst] = [readFileSync(run.src.paths.vars!), readFileSync(run.dst.paths.vars!)];
  expect(src.includes(storedName('MigtestProbe')), "the source's store has the variable its guest set").toBe(true);
  expect(dst.includes(storedName('MigtestProbe')), "the destination's store has the migrated variable").toBe(true);
  expect(dst.includes(storedName('MigtestAfter')), "the destination's store has what its guest set").toBe(true);
  expect(src.includes(storedName('MigtestAfter')), "the source's store is not the destination's").toBe(false);
  ctx.record({ extra: { firmware, probe } });
}

describe.each(testArches())('firmware %s', (arch) => {
  const meta = { suite: 'firmware' };

  for (const firmware of ['uefi', 'uefi-secure'] as const) {
    const probe = `p${randomBytes(6).toString('hex')}`;
    const c: MigrationCase = {
      id: `${firmware}: an EFI variable set on the source reads back on the destination, whose own variable store gets it`,
      arch,
      source: { firmware },
      hooks: {
        start: async ({ src }) => {
          expect(await efiState(src)).toEqual({ efi: true, secureBoot: firmware === 'uefi-secure' });
          await writeEfiVariable(src, 'MigtestProbe', probe);
        },
      },
    };
    if (arch === 'x86_64' && firmware === 'uefi-secure')
      // Where the installed OVMF does not boot on this QEMU (data: KNOWN_FAILURES), a known red.
      scenario(c.id, { ...meta, arch, twoHosts: true }, async (ctx) => {
        const { src } = await runQemu(arch);
        await ctx.xfail(KNOWN_FAILURES.ovmfSecureBootX86Tcg, { version: src.version, accel: (await runAccel(src)).accel }, async () => {
          const report = await runCase(ctx, c);
          ctx.record(caseRow(report));
          await storesCheck(arch, firmware, probe, report, ctx);
        });
      });
    else caseScenario(c, meta, (report, ctx) => storesCheck(arch, firmware, probe, report, ctx));
  }

  caseScenario({ id: 'uefi: postcopy', arch, source: { firmware: 'uefi' }, migration: { mode: 'postcopy' } }, meta, async ({ run }) => {
    expect(await efiState(run.dst)).toEqual({ efi: true, secureBoot: false });
  });

  // Firmware is part of the machine: a destination without it lacks what the source has.
  const noFirmwareThere =
    arch === 'x86_64'
      ? refusedStream('Unknown ramblock "system.flash0"', "a bios destination has no pflash: the firmware's RAM blocks have nowhere to go")
      : refusedStream(unknownSectionWords('acpi-ged'), 'the virt machine builds its ACPI devices (acpi-ged) only when it boots firmware: the destination without one lacks them');
  // aarch64 boots the system image through AAVMF whatever a side asks: there is no bios side there.
  const fromDisk = runConfig().imageFile ? 'a disk image of your own' : runConfig().imageProfile === 'system' ? 'the system image' : undefined;
  const biosSide = arch === 'aarch64' && fromDisk ? ({ kind: 'skip', reason: `${fromDisk} on aarch64 boots only through AAVMF (the virt machine has no BIOS): both sides run UEFI` } as const) : noFirmwareThere;
  caseScenario({ id: 'a uefi source into a bios destination is refused by the destination', arch, source: { firmware: 'uefi' }, destination: { firmware: 'bios' }, expect: biosSide }, meta);
});

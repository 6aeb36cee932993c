import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import {
  behaviourOf, caseRow, caseScenario, efiState, readEfiVariable, refusedStream, runConfig, runCase, scenario, secureBootKeys, storedName, testArches, uefiFirmware, unknownSectionWords, writeEfiVariable,
  type Arch, type CaseReport, type MigrationCase, type ScenarioContext, type StartedVm,
} from '../harness/index.js';

// Guests booted by UEFI firmware (OVMF on x86_64, AAVMF on aarch64) from pflash, each VM with
// a variable store of its own: the firmware's state migrates with the guest (an EFI variable
// set on the source reads back on the destination), the destination's QEMU writes it to its
// own store, and Secure Boot stays on. The default image's kernel boots through its EFI stub;
// under uefi-secure it is signed with the test key the store enrolls. A disk-booted guest
// (--image system or your own) boots its shim and GRUB, with Microsoft's keys in the store.

/** The guest the run boots from its own disk, if it does (else the default image's kernel). */
const fromDisk = () => (runConfig().imageFile ? 'a disk image of your own' : runConfig().imageProfile === 'system' ? 'the system image' : undefined);
/** The run's firmware files for `kind`, with the store its guest is signed for. */
const firmwareOf = (arch: Arch, kind: 'uefi' | 'uefi-secure') => uefiFirmware(arch, kind, secureBootKeys(!!fromDisk()))!;

/** The variable store checks: the guest's view on the destination, then each side's store file. */
async function storesCheck(arch: Arch, firmware: 'uefi' | 'uefi-secure', probe: string, { run }: CaseReport, ctx: ScenarioContext): Promise<void> {
  expect(await efiState(run.dst)).toEqual({ efi: true, secureBoot: firmware === 'uefi-secure' });
  expect(await readEfiVariable(run.dst, 'MigtestProbe')).toBe(probe);
  // The destination's firmware keeps working: a variable set there lands in its store alone.
  await writeEfiVariable(run.dst, 'MigtestAfter', 'dst');
  expect(await readEfiVariable(run.dst, 'MigtestAfter')).toBe('dst');
  const template = readFileSync(firmwareOf(arch, firmware).varsTemplate);
  expect(template.includes(storedName('MigtestProbe')), 'the template is never written').toBe(false);
  if (run.src.host || run.dst.host) return ctx.record({ extra: { firmware, probe, stores: 'not read: a side is on another host' } });
  const [src, dst] = [readFileSync(run.src.paths.vars!), readFileSync(run.dst.paths.vars!)];
  expect(src.includes(storedName('MigtestProbe')), "the source's store has the variable its guest set").toBe(true);
  expect(dst.includes(storedName('MigtestProbe')), "the destination's store has the migrated variable").toBe(true);
  expect(dst.includes(storedName('MigtestAfter')), "the destination's store has what its guest set").toBe(true);
  expect(src.includes(storedName('MigtestAfter')), "the source's store is not the destination's").toBe(false);
  ctx.record({ extra: { firmware, probe } });
}

/** Memory regions of a VM that hide SMRAM from everything but SMM (QEMU's own view: info mtree). */
async function smramRegions(vm: StartedVm): Promise<string[]> {
  const tree = await vm.qmp.execute<string>('human-monitor-command', { 'command-line': 'info mtree' });
  return [...new Set(tree.split('\n').flatMap((l) => /\b(tseg-blackhole|smram-region)\b/.exec(l)?.[1] ?? []))].sort();
}

/**
 * smm=off on the destination of a Secure Boot guest: QEMU compares nothing of it, the guest
 * runs on and its variable writes (through the SMM handler) still land in the store. What
 * the destination still hides of SMRAM is the version's (behaviour.smmOffSmramRegions):
 * from 8.2 no TSEG, so the handler runs from RAM the OS can write.
 */
async function smmOffCheck({ run }: CaseReport, ctx: ScenarioContext): Promise<void> {
  const [srcRegions, dstRegions] = [await smramRegions(run.src), await smramRegions(run.dst)];
  expect(srcRegions, 'the smm=on source hides TSEG and the legacy SMRAM').toEqual(['smram-region', 'tseg-blackhole']);
  const kept = behaviourOf(run.dst.qemuVersion).smmOffSmramRegions;
  expect(dstRegions, `the smm=off destination on ${run.dst.qemuVersion}: the SMRAM regions its version maps`).toEqual(kept);
  expect(await efiState(run.dst)).toEqual({ efi: true, secureBoot: true });
  await writeEfiVariable(run.dst, 'MigtestAfter', 'dst');
  expect(await readEfiVariable(run.dst, 'MigtestAfter')).toBe('dst');
  const stored = run.dst.host ? undefined : readFileSync(run.dst.paths.vars!).includes(storedName('MigtestAfter'));
  if (stored !== undefined) expect(stored, "the destination's store has what its guest set").toBe(true);
  ctx.record({ extra: { srcRegions, dstRegions, smramOnDestination: kept, variableStored: stored ?? 'not read: the destination is on another host' } });
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
    caseScenario(c, meta, (report, ctx) => storesCheck(arch, firmware, probe, report, ctx));
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
  const disk = fromDisk();
  const biosSide = arch === 'aarch64' && disk ? ({ kind: 'skip', reason: `${disk} on aarch64 boots only through AAVMF (the virt machine has no BIOS): both sides run UEFI` } as const) : noFirmwareThere;
  caseScenario({ id: 'a uefi source into a bios destination is refused by the destination', arch, source: { firmware: 'uefi' }, destination: { firmware: 'bios' }, expect: biosSide }, meta);

  // Another build of the firmware on the destination: its flash is another size.
  if (arch === 'x86_64') {
    const twoMiB = { code: '/usr/share/OVMF/OVMF_CODE.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS.fd' };
    const lacking = Object.values(twoMiB).find((f) => !existsSync(f));
    caseScenario(
      {
        id: 'uefi: a destination on the 2 MiB OVMF build (the source on the 4 MiB one) is refused by the destination',
        arch,
        source: { firmware: 'uefi' },
        destination: { firmwareFiles: twoMiB },
        // QEMU's words (10.0.2): a RAM block of a fixed size that differs.
        expect: lacking
          ? { kind: 'skip', reason: `this host's ovmf package has no 2 MiB build (${lacking} is missing; Debian bookworm's ships it)` }
          : refusedStream('Size mismatch: system.flash0: 0x37c000 != 0x1e0000', "the pflash code is a RAM block of the firmware file's size: 3.5 MiB of code against 1.9"),
      },
      meta,
    );
  }

  // Secure Boot's variable store is written through SMM: a destination without SMM.
  if (arch === 'x86_64') {
    const id = "uefi-secure with smm on the source, smm off on the destination: migrates, the guest's variable writes still land, SMRAM as the destination's version maps it";
    scenario(id, { ...meta, arch, twoHosts: true }, async (ctx) => {
      // Resolved when it runs: a host without the secure-boot firmware or its tools skips, naming them.
      const { code, varsTemplate } = firmwareOf(arch, 'uefi-secure');
      const smmOff: MigrationCase = {
        id,
        arch,
        source: { firmware: 'uefi-secure' },
        // The same secure-boot build and store, without smm=on (and its secure pflash); on that
        // build both sides get the same memory floor (SECURE_BOOT_MIN_MIB).
        destination: { firmware: 'uefi', machine: 'q35,smm=off', firmwareFiles: { code, varsTemplate } },
      };
      const report = await runCase(ctx, smmOff);
      ctx.record(caseRow(report));
      await smmOffCheck(report, ctx);
    });
  }

  // A NIC's option ROM is a RAM block of the machine: the destination's NIC without one lacks it.
  caseScenario(
    {
      id: "an option ROM that differs: the destination's NIC without its ROM is refused by the destination",
      arch,
      source: { firmware: 'uefi', devices: ['virtio-net-pci,id=nic0'] },
      destination: { devices: ['virtio-net-pci,id=nic0,romfile='] },
      expect: refusedStream('/virtio-net-pci.rom", cannot accept migration', "the source's NIC has its ROM (efi-virtio.rom) as a RAM block, the destination's (romfile=) none: Unknown ramblock"),
    },
    meta,
  );
  // A ROM of another size: the ROM's block has the size the source's device gave it.
  caseScenario(
    {
      id: "an option ROM of another size (romsize=1M on the destination) is refused by the destination",
      arch,
      source: { firmware: 'uefi', devices: ['virtio-net-pci,id=nic0'] },
      destination: { devices: ['virtio-net-pci,id=nic0,romsize=1048576'] },
      // QEMU's words (10.0.2): efi-virtio.rom rounded up to 256 KiB against the 1 MiB asked for.
      expect: refusedStream('virtio-net-pci.rom: 0x40000 != 0x100000', "a ROM's RAM block is sized by its device (the ROM file rounded up to a power of two, or romsize=): a destination whose ROM space differs cannot take the source's"),
    },
    meta,
  );
});

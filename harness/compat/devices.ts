import type { Arch } from '../images/recipe.js';
import { findBinary } from '../qemu/catalog.js';
import { probeBinary } from '../qemu/probe.js';
import { FAMILY, resolveMachine, versionedMachines } from './grid.js';
import type { PairCase } from './model.js';

/**
 * Mismatched device setups and what QEMU does with each, on both arches (q35 and virt both
 * have a PCIe root bus). Explicit PCI addresses make QEMU's section names predictable.
 */
const ROOT_PORT = 'pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0xb';
const RNG = 'virtio-rng-pci,id=rng0,bus=pcie.0,addr=0xc';
const NET = 'virtio-net-pci,id=net0,netdev=n0,bus=pcie.0,addr=0xd';
const NETDEV = ['-netdev', 'user,id=n0'];
const BLK = (queues: number) => `virtio-blk-pci,id=blk1,drive=nul0,bus=pcie.0,addr=0xe,num-queues=${queues}`;
const NULL_DRIVE = ['-blockdev', 'driver=null-co,node-name=nul0,read-zeroes=on'];

export function deviceCases(arch: Arch): PairCase[] {
  const ram = arch === 'x86_64' ? 'pc.ram' : 'mach-virt.ram';
  return [
    {
      id: 'pcie-root-port missing on the destination',
      arch,
      src: { devices: [ROOT_PORT] },
      dst: { devices: [] },
      expect: {
        kind: 'refused',
        side: 'destination',
        message: "Unknown savevm section or instance '0000:00:0b.0/pcie-root-port' 0",
        why: 'every section in the stream needs a device with that id on the destination',
      },
    },
    {
      id: 'extra pcie-root-port on the destination',
      arch,
      src: { devices: [] },
      dst: { devices: [ROOT_PORT] },
      expect: {
        kind: 'migrates',
        why: 'QEMU only looks up the sections that arrive; a device the stream does not mention keeps its reset state',
      },
    },
    {
      id: 'virtio-rng missing on the destination',
      arch,
      src: { devices: [RNG] },
      dst: { devices: [] },
      expect: {
        kind: 'refused',
        side: 'destination',
        message: "Unknown savevm section or instance '0000:00:0c.0/virtio-rng' 0",
        why: 'the virtio device state arrives for a device the destination does not have',
      },
    },
    {
      id: 'different RAM size',
      arch,
      src: { memoryMiB: 256 },
      dst: { memoryMiB: 512 },
      expect: { kind: 'refused', side: 'destination', message: `Size mismatch: ${ram}`, why: 'RAM blocks must have the same size on both sides' },
    },
    {
      id: 'NIC romfile removed on the destination',
      arch,
      src: { devices: [NET], args: NETDEV },
      dst: { devices: [`${NET},romfile=`] },
      expect: {
        kind: 'refused',
        side: 'destination',
        message: 'Unknown ramblock "0000:00:0d.0/virtio-net-pci.rom", cannot accept migration',
        why: 'an option ROM is a RAM block of its own and migrates like RAM: the destination has no block to put it in',
      },
    },
    {
      id: 'virtio-blk with a different queue count',
      arch,
      src: { devices: [BLK(1)], args: NULL_DRIVE },
      dst: { devices: [BLK(2)] },
      expect: {
        kind: 'refused',
        side: 'destination',
        message: 'Failed to load virtio-blk:virtio',
        why: "the queue count changes the device's PCI config (MSI-X vectors), which QEMU compares byte for byte ('Bad config data') before the virtio state",
      },
    },
  ];
}

/**
 * The source on its family's newest type (q35 -> pc-q35-10.0), the destination on the
 * newest older one: the configuration section at the start of the stream names the type.
 */
export async function machineTypeCase(arch: Arch): Promise<PairCase> {
  const probe = await probeBinary(await findBinary(arch, process.env.MIGTEST_QEMU || undefined));
  const newest = resolveMachine(probe, FAMILY[arch])!;
  const prefix = newest.replace(/\d+\.\d+$/, '');
  const older = versionedMachines(probe.machines.map((m) => m.name), prefix).filter((n) => n !== newest).at(-1)!;
  return {
    id: `different machine type (${newest} -> ${older})`,
    arch,
    src: { machine: newest },
    dst: { machine: older },
    expect: {
      kind: 'refused',
      side: 'destination',
      message: `Machine type received is '${newest}' and local is '${older}'`,
      why: 'the stream starts with a configuration section naming the machine type; the destination compares it',
    },
  };
}

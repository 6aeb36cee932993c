import { unknownSectionWords } from '../qemu/behaviour.js';
import type { Arch } from '../util/arch.js';
import { findBinary } from '../qemu/catalog.js';
import { probeBinary } from '../qemu/probe.js';
import { FAMILY, versionedMachines } from './grid.js';
import { resolveMachine } from '../qemu/probe.js';
import type { MigrationCase } from '../case/model.js';
import { runConfig } from '../util/run-config.js';
import { asPair, refusedStream } from './model.js';

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

export function deviceCases(arch: Arch): MigrationCase[] {
  const ram = arch === 'x86_64' ? 'pc.ram' : 'mach-virt.ram';
  const cases: MigrationCase[] = [
    {
      id: 'pcie-root-port missing on the destination',
      arch,
      source: { devices: [ROOT_PORT] },
      destination: { devices: [] },
      expect: refusedStream(unknownSectionWords('0000:00:0b.0/pcie-root-port'), 'every section in the stream needs a device with that id on the destination'),
    },
    {
      id: 'extra pcie-root-port on the destination',
      arch,
      source: { devices: [] },
      destination: { devices: [ROOT_PORT] },
      expect: {
        kind: 'migrates',
        why: 'QEMU only looks up the sections that arrive; a device the stream does not mention keeps its reset state',
      },
    },
    {
      id: 'virtio-rng missing on the destination',
      arch,
      source: { devices: [RNG] },
      destination: { devices: [] },
      expect: refusedStream(unknownSectionWords('0000:00:0c.0/virtio-rng'), 'the virtio device state arrives for a device the destination does not have'),
    },
    {
      id: 'different RAM size',
      arch,
      source: { memoryMiB: 256 },
      destination: { memoryMiB: 512 },
      expect: refusedStream(`Size mismatch: ${ram}`, 'RAM blocks must have the same size on both sides'),
    },
    {
      id: 'NIC romfile removed on the destination',
      arch,
      source: { devices: [NET], args: NETDEV },
      destination: { devices: [`${NET},romfile=`] },
      expect: refusedStream('Unknown ramblock "0000:00:0d.0/virtio-net-pci.rom", cannot accept migration', 'an option ROM is a RAM block of its own and migrates like RAM: the destination has no block to put it in'),
    },
    {
      id: 'virtio-blk with a different queue count',
      arch,
      source: { devices: [BLK(1)], args: NULL_DRIVE },
      destination: { devices: [BLK(2)] },
      expect: refusedStream('Bad config data', "the queue count changes the device's PCI config (MSI-X vectors), which QEMU compares byte for byte ('Bad config data') before the virtio state"),
    },
  ];
  return cases.map(asPair);
}

/**
 * The source on its family's newest type (q35 -> pc-q35-10.0), the destination on the
 * newest older one: the configuration section at the start of the stream names the type.
 */
export async function machineTypeCase(arch: Arch): Promise<MigrationCase> {
  const probe = await probeBinary(await findBinary(arch, runConfig().qemu.src));
  const newest = resolveMachine(probe, FAMILY[arch])!;
  const prefix = newest.replace(/\d+\.\d+$/, '');
  const older = versionedMachines(probe.machines.map((m) => m.name), prefix).filter((n) => n !== newest).at(-1)!;
  return asPair({
    id: `different machine type (${newest} -> ${older})`,
    arch,
    source: { machine: newest },
    destination: { machine: older },
    expect: refusedStream(`Machine type received is '${newest}' and local is '${older}'`, 'the stream starts with a configuration section naming the machine type; the destination compares it'),
  });
}

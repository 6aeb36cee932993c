import type { MigrationCase } from '../case/model.js';
import type { QemuProbe } from '../qemu/probe.js';
import type { Accel } from '../util/arch.js';
import { capabilitiesFor, expectCell } from './expect.js';
import type { MatrixCell } from './model.js';

const version = (v: string) => (v === 'default' ? undefined : v);

/**
 * A matrix cell as a migration case, its expectation computed from both binaries' probes
 * and the rules table: a skip naming what a binary lacks, a side refusing its settings in
 * the rule's words, or a migration checked for liveness and RAM.
 */
export function cellCase(cell: MatrixCell, probes: { src: QemuProbe; dst: QemuProbe }, accel: Accel): MigrationCase {
  const expect = expectCell(cell, probes, accel);
  // Capabilities set off are sent only where both binaries know them.
  const known = capabilitiesFor(cell, probes.src);
  const capabilities = Object.fromEntries(Object.entries(known).filter(([c, on]) => on || probes.dst.capabilities.includes(c)));
  return {
    id: cell.id,
    arch: cell.arch,
    source: { qemu: version(cell.qemu.src) },
    destination: { qemu: version(cell.qemu.dst) },
    workload: cell.workload,
    migration: { transport: cell.transport, capabilities, parameters: cell.parameters },
    expect,
  };
}

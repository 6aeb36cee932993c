import type { MigrationCase } from '../case/model.js';
import { expectFor } from '../case/expectations.js';
import type { QemuProbe } from '../qemu/probe.js';
import type { Accel } from '../util/arch.js';
import type { MatrixCell } from './model.js';

const version = (v: string) => (v === 'default' ? undefined : v);

/** Capabilities to send: the ones set on, and the ones set off that both binaries know. */
function cellCapabilities(cell: MatrixCell, probes: { src: QemuProbe; dst: QemuProbe }): Record<string, boolean> {
  return Object.fromEntries(Object.entries(cell.capabilities).filter(([c, on]) => on || (probes.src.capabilities.includes(c) && probes.dst.capabilities.includes(c))));
}

/**
 * A matrix cell as a migration case, its expectation computed from both binaries' probes
 * and QEMU's rules (case/expectations.ts): a skip naming what a binary lacks, a side refusing
 * its settings in the rule's words, or a migration checked for liveness and RAM.
 */
export function cellCase(cell: MatrixCell, probes: { src: QemuProbe; dst: QemuProbe }, accel: Accel, twoHosts = false): MigrationCase {
  const c: MigrationCase = {
    id: cell.id,
    arch: cell.arch,
    source: { qemu: version(cell.qemu.src) },
    destination: { qemu: version(cell.qemu.dst) },
    workload: cell.workload,
    migration: { transport: cell.transport, capabilities: cellCapabilities(cell, probes), parameters: cell.parameters },
  };
  return { ...c, expect: expectFor(c, { ...probes, accel, twoHosts }) };
}

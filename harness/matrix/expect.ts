import type { QemuProbe } from '../qemu/probe.js';
import type { Expectation } from '../case/model.js';
import { expectFor } from '../case/expectations.js';
import type { Accel } from '../util/arch.js';
import type { MatrixCell } from './model.js';
import { cellCase } from './cases.js';

/**
 * What a cell must do, computed by the same engine as every case (case/expectations.ts): a
 * binary that lacks a capability, parameter or transport makes it a skip naming the version;
 * a combination QEMU's rules forbid makes it a side refusing its settings in that rule's
 * words; anything else must migrate.
 */
export function expectCell(cell: MatrixCell, probes: { src: QemuProbe; dst: QemuProbe }, accel: Accel, twoHosts = false): Expectation {
  // The cell's capabilities as sent (those set off only where a binary knows them), expectation left to the engine.
  const { expect: _computed, ...c } = cellCase(cell, probes, accel);
  return expectFor(c, { ...probes, accel, twoHosts });
}

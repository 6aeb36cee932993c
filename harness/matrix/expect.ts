import type { QemuProbe } from '../qemu/probe.js';
import type { Expectation } from '../case/model.js';
import type { Side } from '../migration/migrate.js';
import type { Accel } from '../util/arch.js';
import type { MatrixCell } from './model.js';
import { RULES, ruleEnforced } from './rules.js';
import { lacksTransport } from '../qemu/transports.js';

/**
 * What a cell must do, computed: a binary that lacks a capability, parameter or transport
 * makes it a skip naming the version; a combination QEMU's rules forbid makes it a side
 * refusing its settings in that rule's words; anything else must migrate.
 */
export function expectCell(cell: MatrixCell, probes: { src: QemuProbe; dst: QemuProbe }, accel: Accel): Expectation {
  const sides: Array<[Side, QemuProbe]> = [['source', probes.src], ['destination', probes.dst]];
  for (const [side, probe] of sides) {
    const lacks = lacksTransport(cell.transport, probe.version, side);
    if (lacks) return { kind: 'skip', reason: lacks };
    for (const [cap, on] of Object.entries(cell.capabilities))
      if (on && !probe.capabilities.includes(cap))
        return { kind: 'skip', reason: `QEMU ${probe.version} (${side}) has no capability ${cap}` };
    for (const param of Object.keys(cell.parameters))
      if (!(param in probe.parameters)) return { kind: 'skip', reason: `QEMU ${probe.version} (${side}) has no parameter ${param}` };
  }
  // Settings go to the destination first (multifd-channels before migrate-incoming).
  for (const [side, probe] of [sides[1]!, sides[0]!]) {
    const rule = RULES.find((r) => ruleEnforced(r, probe.version) && r.applies(cell.capabilities, { accel }));
    if (rule) return { kind: 'refused', side, stage: 'settings', message: rule.message, why: rule.why, rule: rule.id };
  }
  return { kind: 'migrates' };
}

/** Capabilities to send: the ones set on, and the ones set off that this binary knows. */
export function capabilitiesFor(cell: MatrixCell, probe: QemuProbe): Record<string, boolean> {
  return Object.fromEntries(Object.entries(cell.capabilities).filter(([c, on]) => on || probe.capabilities.includes(c)));
}

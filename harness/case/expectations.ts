import { transportKind } from '../migration/transport.js';
import { mergeSettings } from '../migration/postcopy.js';
import { compareVersions } from '../qemu/catalog.js';
import { behaviourOf } from '../qemu/behaviour.js';
import { knownBreak } from '../qemu/known-breaks.js';
import { resolveMachine, type QemuProbe } from '../qemu/probe.js';
import { FEATURE_SINCE, RULES, ruleEnforced, USABLE_SINCE } from '../qemu/rules.js';
import { ARCH_DEFAULTS, type Accel, type Arch } from '../util/arch.js';
import type { Side } from '../migration/migrate.js';
import { driverFor } from './drivers/index.js';
import type { Expectation, MigrationCase } from './model.js';

/** What the expectation of a case depends on: both binaries as probed, the accelerator, the placement. */
export interface ExpectationContext {
  src: QemuProbe;
  dst: QemuProbe;
  accel: Accel;
  /** The sides run on two hosts. */
  twoHosts: boolean;
}

/** The destination refuses the stream, saying `message`. */
export const refusedStream = (message: string, why: string): Expectation => ({ kind: 'refused', side: 'destination', stage: 'stream', message, why });

/** The capabilities each side is given: the mode's (postcopy-ram ...) under the case's, the destination's own on top. */
export function caseCapabilities(c: MigrationCase): { source: Record<string, boolean>; destination: Record<string, boolean> } {
  const spec = c.migration ?? {};
  const base = mergeSettings(driverFor(spec.mode).settings(spec), spec).capabilities;
  return { source: base, destination: { ...base, ...spec.destination?.capabilities } };
}

function caseParameters(c: MigrationCase): Record<string, unknown> {
  const spec = c.migration ?? {};
  return mergeSettings(driverFor(spec.mode).settings(spec), spec, spec.destination).parameters;
}

/**
 * Why this case cannot run here, naming what is missing, or undefined: a transport or a
 * capability a side's QEMU lacks (or has but not yet usable), a parameter it does not know,
 * a transport or fault that cannot cross two hosts.
 */
export function lacksFor(c: MigrationCase, ctx: ExpectationContext): string | undefined {
  const t = transportKind(c.migration?.transport);
  const caps = caseCapabilities(c);
  const params = Object.keys(caseParameters(c));
  const driver = driverFor(c.migration?.mode);
  for (const [side, probe] of [['source', ctx.src], ['destination', ctx.dst]] as Array<[Side, QemuProbe]>) {
    const lacks = t.lacks(probe.version, side);
    if (lacks) return lacks;
    if (driver.since && compareVersions(probe.version, driver.since.version) < 0) return `QEMU ${probe.version} (${side}) has no migration mode ${c.migration?.mode} (${driver.since.why})`;
    for (const [cap, on] of Object.entries(caps[side])) {
      if (!on) continue;
      if (!probe.capabilities.includes(cap)) return `QEMU ${probe.version} (${side}) has no capability ${cap}`;
      const usable = USABLE_SINCE[cap];
      if (usable && compareVersions(probe.version, usable.since) < 0) return `QEMU ${probe.version} (${side}) has ${cap} but it is usable only from ${usable.since} (${usable.why})`;
    }
    for (const p of params) if (!(p in probe.parameters)) return `QEMU ${probe.version} (${side}) has no parameter ${p}`;
    for (const [field, f] of Object.entries(FEATURE_SINCE))
      if (c.migration?.[field as 'channels' | 'fileOffset'] !== undefined && compareVersions(probe.version, f.since) < 0) return `QEMU ${probe.version} (${side}) has no ${f.what} (since ${f.since})`;
  }
  if (ctx.twoHosts) {
    if (t.oneHost) return `transport ${t.name} needs both sides on one host (${t.oneHost}); this run has two`;
    if (driver.oneHost) return `mode ${c.migration?.mode}: ${driver.oneHost}; this run has two hosts`;
    if (c.oneHost) return `${c.oneHost}; this run has two hosts`;
    const f = c.faults?.find((x) => x.oneHost);
    if (f) return `fault '${f.name}' ${f.oneHost}; this run has two hosts`;
    if (c.migration?.connect) return `migration.connect '${c.migration.connect}' goes to a loopback port of this machine; this run has two hosts`;
  }
  const src = c.source ?? {};
  if (src.cpu && !ctx.src.cpuModels.includes(src.cpu.split(',')[0]!)) return `QEMU ${ctx.src.version} has no CPU model ${src.cpu}`;
  if (src.machine && !resolveMachine(ctx.src, src.machine.split(',')[0]!)) return `QEMU ${ctx.src.version} has no machine type ${src.machine}`;
  return undefined;
}

/**
 * Rules for a pair of versions on one machine type:
 * - a destination that lacks the machine type cannot start;
 * - a known break between two real builds (qemu/known-breaks.ts) fails in its own words;
 * - Arm under TCG: the CPU's system-register list (cpreg) grows between QEMU versions and
 *   the destination refuses registers it does not know, or a longer list than its own
 *   (observed 7.2.22 <-> 10.0.2 both ways). Versioned machine types do not cover it; under
 *   KVM the list comes from the host kernel (untried here: no usable KVM);
 * - otherwise it migrates: versioned machine types exist for exactly this.
 */
export function expectMachine(machine: string, dst: QemuProbe, ctx?: { arch: Arch; accel: Accel; src: QemuProbe }): Expectation {
  if (!resolveMachine(dst, machine))
    return {
      kind: 'dst-start-fails',
      message: 'unsupported machine type',
      why: `QEMU ${dst.version} does not know ${machine}: a newer source's newest type cannot go back`,
    };
  const known = ctx && knownBreak(ctx.arch, ctx.accel, ctx.src.version, dst.version);
  if (known)
    return known.outcome === 'lost'
      ? { kind: 'lost', message: known.message, why: known.why }
      : known.outcome === 'crashed'
        ? { kind: 'crashes', side: 'destination', message: known.message, why: known.why }
        : refusedStream(known.message, known.why);
  if (ctx && ctx.arch === 'aarch64' && ctx.accel === 'tcg' && ctx.src.version !== dst.version)
    return refusedStream(
      "error while loading state for instance 0x0 of device 'cpu'",
      `under TCG the Arm CPU register list differs between QEMU ${ctx.src.version} and ${dst.version}; versioned machine types do not cover it`,
    );
  return { kind: 'migrates', why: `QEMU ${dst.version} keeps ${machine}'s device layout and defaults` };
}

/**
 * What a case must do, computed from QEMU's rules for its two binaries and placement: the
 * one function the declarative cases, the capability matrix and the compatibility grid share.
 * - a skip naming what a binary or the placement lacks (lacksFor);
 * - across two QEMU versions, the machine-type rule (expectMachine);
 * - a capability combination a side's QEMU forbids: that side refusing its settings in the
 *   rule's words (the destination's are set first);
 * - otherwise: migrates.
 */
export function expectFor(c: MigrationCase, ctx: ExpectationContext): Expectation {
  const lacks = lacksFor(c, ctx);
  if (lacks) return { kind: 'skip', reason: lacks };
  const arch = c.arch;
  // Two builds: the destination is given the source's machine type by its versioned name.
  const machine = c.source?.machine ?? ARCH_DEFAULTS[arch].machine;
  if (ctx.src.path !== ctx.dst.path) {
    if (!resolveMachine(ctx.src, machine)) return { kind: 'skip', reason: `QEMU ${ctx.src.version} has no machine type ${machine}` };
    const e = expectMachine(machine, ctx.dst, { arch, accel: ctx.accel, src: ctx.src });
    if (e.kind !== 'migrates') return e;
  }
  const caps = caseCapabilities(c);
  for (const [side, probe] of [['destination', ctx.dst], ['source', ctx.src]] as Array<[Side, QemuProbe]>) {
    const rule = RULES.find((r) => ruleEnforced(r, probe.version) && r.applies(caps[side], { accel: ctx.accel }));
    if (rule?.outcome === 'unsupported') return { kind: 'skip', reason: `QEMU ${probe.version} (${side}): ${rule.message} (${rule.why})` };
    if (rule) return { kind: 'refused', side, stage: 'settings', message: rule.message, why: rule.why, rule: rule.id };
  }
  // The destination loads its credentials first, and checks its certificate's key usage there.
  if (c.migration?.tls?.creds === 'x509' && c.migration.tls.keyEncipherment === false && behaviourOf(ctx.dst.version).x509KeyEncipherment === 'required')
    return { kind: 'refused', side: 'destination', stage: 'settings', message: 'usage does not permit key encipherment', why: `QEMU ${ctx.dst.version} wants keyUsage keyEncipherment on an x509 certificate (no longer from 10.2, 10.1.3 and 7.2.22)` };
  return c.whenAllowed ?? { kind: 'migrates' };
}

/** The case's own expectation where it has one (what the host lacks still skips it), else the computed one. */
export function expectationOf(c: MigrationCase, ctx: ExpectationContext): Expectation {
  if (!c.expect) return expectFor(c, ctx);
  if (c.expect.kind === 'skip') return c.expect;
  const lacks = lacksFor(c, ctx);
  return lacks ? { kind: 'skip', reason: lacks } : c.expect;
}

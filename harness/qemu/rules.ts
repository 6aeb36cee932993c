import { compareVersions } from './catalog.js';
import type { Accel } from '../util/arch.js';

/**
 * QEMU's capability rules (migrate_caps_check and friends), in one table. A cell whose
 * capabilities match a rule is a negative cell: it asserts that QEMU refuses it with this
 * message (a substring: QEMU rewords between releases). Messages observed on 7.2.22 and
 * 10.0.2 with `migrate-set-capabilities`.
 */
export interface CapabilityRule {
  id: string;
  /** The versions that enforce it: [since, before); open ends allowed. */
  since?: string;
  before?: string;
  applies: (caps: Record<string, boolean>, ctx: { accel: Accel }) => boolean;
  message: string;
  why: string;
  /**
   * What a version it covers does: refuses the settings in `message` (default), or accepts
   * them and cannot do it (`unsupported`: the case skips, saying why, rather than assert a bug).
   */
  outcome?: 'refused' | 'unsupported';
}

/** background-snapshot's incompatible list (REFERENCE.md). */
export const BACKGROUND_SNAPSHOT_INCOMPATIBLE = [
  'postcopy-ram', 'dirty-bitmaps', 'postcopy-blocktime', 'late-block-activate', 'return-path', 'multifd',
  'pause-before-switchover', 'auto-converge', 'release-ram', 'rdma-pin-all', 'compress', 'xbzrle', 'x-colo',
  'validate-uuid', 'zero-copy-send',
] as const;

export const RULES: CapabilityRule[] = [
  {
    id: 'switchover-ack-needs-return-path',
    applies: (c) => !!c['switchover-ack'] && !c['return-path'],
    message: "Capability 'switchover-ack' requires capability 'return-path'",
    why: 'the destination acknowledges switchover over the return path',
  },
  {
    id: 'x-colo-needs-return-path',
    // Seen on 11.1.3, checked before background-snapshot's list; 10.0.2 has no such check.
    since: '11.1',
    applies: (c) => !!c['x-colo'] && !c['return-path'],
    message: "Capability 'x-colo' requires capability 'return-path'",
    why: 'COLO checkpoints are acknowledged over the return path',
  },
  ...BACKGROUND_SNAPSHOT_INCOMPATIBLE.map<CapabilityRule>((cap) => ({
    id: `background-snapshot-vs-${cap}`,
    applies: (c) => !!c['background-snapshot'] && !!c[cap],
    message: `Background-snapshot is not compatible with ${cap}`,
    why: 'background-snapshot write-protects guest RAM and saves it once; it cannot combine with this',
  })),
  {
    id: 'postcopy-preempt-needs-postcopy-ram',
    applies: (c) => !!c['postcopy-preempt'] && !c['postcopy-ram'],
    message: 'Postcopy preempt requires postcopy-ram',
    why: 'preempt is a channel of postcopy',
  },
  {
    id: 'zero-copy-needs-multifd',
    applies: (c) => !!c['zero-copy-send'] && !c.multifd,
    message: 'Zero copy only available for non-compressed non-TLS multifd migration',
    why: 'zero-copy send is implemented in the multifd channels only',
  },
  {
    id: 'multifd-vs-xbzrle',
    // Accepted by 7.2.22, refused by 10.0.2; the release in between that added it is unverified.
    since: '9.0',
    applies: (c) => !!c.multifd && !!c.xbzrle,
    message: 'Multifd is not compatible with xbzrle',
    why: 'multifd sends whole pages; xbzrle encodes deltas in the main channel',
  },
  {
    id: 'multifd-vs-compress',
    applies: (c) => !!c.multifd && !!c.compress,
    message: 'Multifd is not compatible with compress',
    why: 'multifd has its own compression (multifd-compression)',
  },
  {
    id: 'postcopy-with-multifd-unsupported',
    before: '8.1',
    applies: (c) => !!c['postcopy-ram'] && !!c.multifd,
    outcome: 'unsupported',
    message: 'multifd with postcopy-ram is accepted but not supported',
    why: "seen on 7.2.22: the capabilities are accepted and the destination aborts (yank_unregister_instance assertion) or a recovery never completes; QEMU refuses the pair from 8.1 and supports it from 10.1",
  },
  {
    id: 'postcopy-vs-multifd',
    since: '8.1',
    before: '10.1',
    applies: (c) => !!c['postcopy-ram'] && !!c.multifd,
    message: 'Postcopy is not yet compatible with multifd',
    why: 'multifd with postcopy came in 10.1',
  },
  {
    id: 'mapped-ram-vs-postcopy',
    applies: (c) => !!c['mapped-ram'] && !!c['postcopy-ram'],
    message: 'Mapped-ram migration is incompatible with postcopy',
    why: 'mapped-ram writes each page at its offset in a file; postcopy sends pages on demand over a stream (seen on 10.0.2 and 11.1.3)',
  },
  {
    id: 'dirty-limit-needs-kvm-dirty-ring',
    applies: (c, ctx) => !!c['dirty-limit'] && ctx.accel !== 'kvm',
    message: "dirty-limit requires KVM with accelerator property 'dirty-ring-size' set",
    why: 'dirty-limit throttles vCPUs through the KVM dirty ring; TCG has none',
  },
];

export function ruleEnforced(rule: CapabilityRule, version: string): boolean {
  if (rule.since && compareVersions(version, rule.since) < 0) return false;
  if (rule.before && compareVersions(version, rule.before) >= 0) return false;
  return true;
}

/** Parts of QMP's migration interface that no probe shows before use: the first version with each. */
export const FEATURE_SINCE: Record<string, { since: string; what: string }> = {
  channels: { since: '8.2', what: "the 'channels' argument of migrate" },
  fileOffset: { since: '8.2', what: "a file: URI's offset" },
};

/** Capabilities that a binary offers before they work for the harness's purpose: the first version they do. */
export const USABLE_SINCE: Record<string, { since: string; why: string }> = {
  'postcopy-preempt': { since: '8.0', why: 'it appeared in 7.1; its channel survives a postcopy recovery from 8.0' },
};

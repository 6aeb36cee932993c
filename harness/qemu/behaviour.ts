import { compareVersions } from './catalog.js';
import type { Accel } from '../util/arch.js';

/**
 * What a QEMU version does where versions differ, as data: the harness and its suites read
 * this instead of assuming one version's behaviour. Each entry says what was seen, and where.
 */
export interface Behaviour {
  /** migrate_cancel while the outgoing connect still hangs (SYNs dropped). */
  cancelWhileConnecting: {
    /** What the source says right after the cancel: `cancelled` at once, or `cancelling` until the connect gives up. */
    status: 'cancelled' | 'cancelling';
    /** A second `migrate` meanwhile: refused, in these words. */
    secondMigrate: 'refused';
    secondMigrateWords: string;
    why: string;
  };
  /** Migration statuses this version can report besides the old ones: `failing` before failed (11.0), `postcopy-device` at the switch (10.2). */
  statuses: { failing: boolean; postcopyDevice: boolean };
  /** query-migrate on a postcopy destination gives page-fault latency figures (postcopy-latency, its histogram): 10.1. */
  postcopyLatency: boolean;
  /**
   * blockdev-mirror sync=full into a fresh (zero) image: `whole-disk` copies every byte, zeroes
   * included; `allocated` skips what reads as zero on a target known to be zero.
   */
  mirrorFullCopies: 'whole-disk' | 'allocated';
  /** A destination (or snapshot-load) meeting a section for a device it lacks: QEMU's first word(s), before unknownSectionWords. */
  unknownSection: string;
  /**
   * x509 credentials whose certificates lack keyUsage keyEncipherment: `required` refuses them
   * when loaded; upstream stopped requiring it (3995fc238e, 10.2; in stable 10.1.3 and
   * Debian's 7.2.22, not in 10.0.13).
   */
  x509KeyEncipherment: 'required' | 'optional';
  /**
   * A q35 machine with smm=off: the memory regions (`info mtree`) it still maps to hide SMRAM
   * from everything but SMM: `smram-region` (the legacy SMRAM at 0xa0000) and `tseg-blackhole`
   * (TSEG). Where TSEG's is gone, TSEG is plain RAM to the guest.
   */
  smmOffSmramRegions: Array<'smram-region' | 'tseg-blackhole'>;
}

interface Entry {
  /** [since, before): the versions the entry covers; open ends allowed. */
  since?: string;
  before?: string;
  behaviour: Partial<Behaviour>;
}

const BASE: Behaviour = {
  cancelWhileConnecting: {
    status: 'cancelling',
    secondMigrate: 'refused',
    secondMigrateWords: "There's a migration process in progress",
    why: 'seen on 5.2.0, 7.2.22 and 11.1.3: the status stays cancelling until the connect gives up, and a second migrate meanwhile is refused as in progress',
  },
  statuses: { failing: false, postcopyDevice: false },
  postcopyLatency: false,
  unknownSection: 'Unknown savevm',
  mirrorFullCopies: 'whole-disk',
  x509KeyEncipherment: 'required',
  smmOffSmramRegions: ['smram-region', 'tseg-blackhole'],
};

/** Later entries override earlier ones where both cover a version. */
const ENTRIES: Entry[] = [
  // Seen as the old words on 10.0.2 and 10.0.13 and the new ones on 11.1.3; upstream turned the
  // error_report into an error_setg for 10.1 (not verified on a 10.1 build here).
  // 11.1.3 copied 7 MB of a 64 MiB disk into a fresh image (the data fio had written), 10.0.x
  // all 64 MiB: upstream's mirror skips zeroes on a target known to be zero from 10.1 (unverified there).
  { since: '10.1', behaviour: { unknownSection: 'Unknown', mirrorFullCopies: 'allocated', postcopyLatency: true } },
  { since: '10.2', behaviour: { statuses: { failing: false, postcopyDevice: true } } },
  // Refused on 5.2.0, 10.0.2 and 10.0.13, loaded on 7.2.22 (Debian's 7.2 stable carries the
  // change) and 11.1.3; upstream's change reached stable 10.1.3 too.
  { since: '7.2.22', before: '7.3', behaviour: { x509KeyEncipherment: 'optional' } },
  { since: '10.1.3', behaviour: { x509KeyEncipherment: 'optional' } },
  { since: '11.0', behaviour: { statuses: { failing: true, postcopyDevice: true } } },
  // Both on 7.2.22, none on 10.0.2 and 10.0.13, the legacy one alone on 11.1.3 (firmware's
  // smm-off case, 2026-12-06/07); upstream's q35 host bridge maps them only with SMM ranges
  // from 8.2; where between 10.0.13 and 11.1.3 the legacy one came back is unverified here.
  { since: '8.2', behaviour: { smmOffSmramRegions: [] } },
  { since: '11.1', behaviour: { smmOffSmramRegions: ['smram-region'] } },
  {
    since: '10.0',
    before: '11.1',
    behaviour: {
      cancelWhileConnecting: {
        status: 'cancelled',
        secondMigrate: 'refused',
        secondMigrateWords: 'duplicate yank instance',
        why: "a regression in 10.0.0, fixed upstream in 11.1 (seen on 10.0.2 and 10.0.13): cancelled at once while the connect still hangs, which keeps its yank instance; a second migrate meanwhile fails with 'duplicate yank instance'",
      },
    },
  },
];

const covers = (e: Entry, version: string) =>
  (!e.since || compareVersions(version, e.since) >= 0) && (!e.before || compareVersions(version, e.before) < 0);

/**
 * The words every version says for a section the destination has no device for: the part
 * before the id differs (behaviour.unknownSection), this part does not.
 */
export const unknownSectionWords = (id: string, instance = 0) => `section or instance '${id}' ${instance}`;

/** The behaviour of a QEMU version, from the table. */
export function behaviourOf(version: string): Behaviour {
  return ENTRIES.filter((e) => covers(e, version)).reduce<Behaviour>((b, e) => ({ ...b, ...e.behaviour }), BASE);
}

/** A failure some QEMU versions have, known and kept as data: a case or scenario marks it xfail there. */
export interface KnownFailure {
  /** Version labels, as prefixes ("10.0", "9" for every 9.x). */
  versions: string[];
  reason: string;
  /** Only under this accelerator (seen there, not known elsewhere); any when absent. */
  accel?: Accel;
  /**
   * What the failure says (a scenario's xfail): a failure saying something else is not this
   * one and stays red. A case's xfail says it with its `expect` instead.
   */
  failure?: RegExp;
}

export const KNOWN_FAILURES = {
  /** precopy-cancel: a second migrate while a cancelled connect still hangs. */
  secondMigrateWhileCancelling: {
    // The same range as cancelWhileConnecting's entry above (10.0 up to 11.1).
    versions: ['10.0', '10.1', '10.2', '11.0'],
    reason: "regression in 10.0.0, fixed upstream in 11.1: the cancel ends at once and the hanging connect keeps its yank instance, so a second migrate fails with 'duplicate yank instance' (seen on 10.0.2 and 10.0.13)",
  },
  /** snapshots: snapshot-save with the multifd capability on. */
  snapshotWithMultifd: {
    versions: ['5', '6', '7', '8', '9', '10.0', '10.1'],
    reason: 'before 10.2 QEMU does not refuse a snapshot with multifd on and dies of a signal saving it (seen on 5.2.0, 7.2.22, 10.0.2); 10.2 refuses it: Snapshots are not compatible with multifd',
    failure: /QEMU exited \(killed by SIG/,
  },
  /** snapshots: snapshot-save with the mapped-ram capability on. */
  snapshotWithMappedRam: {
    versions: ['9', '10.0', '10.1'],
    reason: "before 10.2 snapshot-save with mapped-ram on fails: 'Error while writing VM state: Input/output error' (seen on 10.0.2); it works from 10.2",
    failure: /Error while writing VM state: Input\/output error/,
  },
  /** dirty-rate: calc-dirty-rate in dirty-bitmap mode on an x86_64 guest without KVM. */
  dirtyBitmapX86Tcg: {
    versions: ['7'],
    accel: 'tcg',
    reason: "QEMU 7.2.22 x86_64 under TCG dies of a segfault at calc-dirty-rate mode=dirty-bitmap (a NULL read at 0x11b0, booted or restored; seen 2026-12-06); aarch64 7.2.22 and x86_64 10.0.2 answer it (with 0 MiB/s under TCG); 8.x and 9.x not tried",
    // QEMU gone mid-request: the monitor closes, or the exit is seen first.
    failure: /qmp connection closed|QEMU exited \(killed/,
  },
} satisfies Record<string, KnownFailure>;

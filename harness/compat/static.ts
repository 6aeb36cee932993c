import type { MigrationCase, PreparedRun } from '../case/model.js';
import { deadline } from '../util/deadlines.js';
import { findBinary } from '../qemu/catalog.js';
import { compareVmstate, dumpVmstate, qomTreeTypes, type StaticVerdict } from '../qemu/vmstate.js';

/** Whether the static reading called what the real migration did. */
export type StaticAgreement =
  | 'agreed' // it said what happened
  | 'predicted the refusal' // a definite mismatch, and the destination refused
  | 'hinted at the refusal' // only a subsection that may be sent, and it was refused
  | 'only migration tells' // it saw nothing, and the destination refused
  | 'false alarm'; // it saw a mismatch, and the guest migrated

export interface StaticCheck extends StaticVerdict {
  agreement?: StaticAgreement;
  /** Where the dumps came from (the source's instantiated types, or every type both know). */
  scope: string;
}

/**
 * A compat cell with QEMU's `-dump-vmstate` of both sides compared before it migrates: the
 * cell's case gains a start hook that reads the device types the source instantiated
 * (`info qom-tree`), since only those are sent. `verdict(outcome)` says what the dumps
 * predicted and whether the real outcome agreed.
 */
export function withStaticCheck(c: MigrationCase): { case: MigrationCase; verdict(outcome?: string): Promise<StaticCheck | undefined> } {
  let types: string[] | undefined;
  const start = c.hooks?.start;
  const hooked: MigrationCase = {
    ...c,
    hooks: {
      ...c.hooks,
      start: async (run: PreparedRun) => {
        types = qomTreeTypes(await run.src.qmp.hmp('info qom-tree', { timeoutMs: deadline(undefined, 'hmp') }).catch(() => ''));
        if (!types.length) types = undefined;
        await start?.(run);
      },
    },
  };
  return {
    case: hooked,
    async verdict(outcome) {
      const machine = c.source?.machine;
      if (!machine) return undefined;
      const [sb, db] = [await findBinary(c.arch, c.source?.qemu), await findBinary(c.arch, c.destination?.qemu ?? c.source?.qemu)];
      const [sd, dd] = [await dumpVmstate(sb, machine), await dumpVmstate(db, machine)];
      if ('error' in sd) return { predicted: 'compatible', issues: [{ level: 'possible', at: 'source', what: `no dump: ${sd.error}` }], compared: 0, scope: 'none' };
      const v: StaticCheck =
        'error' in dd
          ? { predicted: 'dst-start-fails', issues: [{ level: 'definite', at: machine, what: dd.error }], compared: 0, scope: 'none' }
          : { ...compareVmstate(sd.dump, dd.dump, types), scope: types ? "the source's instantiated device types" : 'every device type (the source did not start)' };
      return outcome ? { ...v, agreement: agreement(v, outcome) } : v;
    },
  };
}

/** `outcome`: the case's outcome label (outcomeLabel: migrated, refused, failed, dst-start-failed, ...). */
export function agreement(v: StaticVerdict, outcome: string): StaticAgreement {
  // lost: the destination refused the stream after the source had completed.
  const refused = outcome === 'refused' || outcome === 'failed' || outcome === 'lost';
  if (outcome === 'dst-start-failed') return v.predicted === 'dst-start-fails' ? 'agreed' : 'only migration tells';
  if (refused) return v.predicted === 'refused' ? 'predicted the refusal' : v.predicted === 'may-refuse' ? 'hinted at the refusal' : 'only migration tells';
  return v.predicted === 'refused' || v.predicted === 'dst-start-fails' ? 'false alarm' : 'agreed';
}

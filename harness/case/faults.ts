import type { Side } from '../migration/migrate.js';
import { pauseSides } from '../migration/postcopy.js';
import { when, type Trigger } from '../migration/triggers.js';
import { MigtestError } from '../util/errors.js';
import type { CaseRun, FaultSpec } from './model.js';

const bridge = (run: CaseRun) => {
  if (!run.bridges) throw new MigtestError(`${run.case.id}: a bridge fault needs migration.bridged`);
  return run.bridges.current;
};

/** Where most faults hit: a fifth of what remained sent, in precopy or postcopy. */
const midPrecopy = () => when.progress('active', 0.2);
const midPostcopy = () => when.progress('postcopy-active', 0.2);

/** The faults cases declare; each fires at a state of the migration. */
export const fault = {
  /** SIGKILL to the bridge's process group: the link dies at once. */
  killBridge: (at: Trigger = midPostcopy(), whilePaused?: FaultSpec['whilePaused']): FaultSpec => ({
    name: 'bridge killed (SIGKILL to its group)',
    at,
    fire: (run) => bridge(run).kill(),
    whilePaused,
  }),
  /** SIGSTOP to the bridge: the link hangs silently. */
  stallBridge: (at: Trigger = midPrecopy()): FaultSpec => ({ name: 'bridge stalled (SIGSTOP)', at, fire: async (run) => bridge(run).stall() }),
  /** migrate-pause (out-of-band) on the given sides, qtest style. */
  pause: (sides: Side[], at: Trigger = midPostcopy()): FaultSpec => ({
    name: `migrate-pause (OOB) on the ${sides.join(' and ')}`,
    at,
    fire: (run) => pauseSides(sides.map((s) => run.vm(s))),
  }),
  /** SIGKILL to one side's QEMU. */
  kill: (side: Side, at: Trigger): FaultSpec => ({ name: `SIGKILL ${side}`, at, fire: (run) => run.vm(side).kill() }),
  /** migrate_cancel on the source (after a hang is seen, say). */
  cancel: (at: Trigger): FaultSpec => ({ name: 'migrate_cancel', at, fire: (run) => run.src.qmp.execute('migrate_cancel') }),
  /** Anything else, named. */
  custom: (name: string, at: Trigger, fire: FaultSpec['fire']): FaultSpec => ({ name, at, fire }),
};

import { versionMatches } from '../qemu/catalog.js';
import type { Expectation, Outcome, RefusalStage, XFail } from './model.js';

export interface Verdict {
  ok: boolean;
  /** For the results row: what the outcome means ("refused by the destination, as expected"). */
  verdict: string;
  /** Why the outcome does not match, naming both. */
  message?: string;
}

const STAGE: Record<RefusalStage, string> = { settings: 'its settings', stream: 'the stream', switch: 'the switch to postcopy' };

/** The outcome in a few words, as the compat report, the row and failure messages say it. */
export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'migrated':
      return 'migrated';
    case 'wrong-run-state':
      return `the ${o.side}'s run state is '${o.got}', expected '${o.expected}'`;
    case 'refused':
      return `refused by the ${o.side} (${STAGE[o.stage]}): ${o.error}`;
    case 'failed':
      return `ended '${o.status}'${o.error ? `: ${o.error}` : ''}, the source running on`;
    case 'lost':
      return `lost: ${o.error}${o.sourceResumed ? ' (resumed on the source)' : ''}`;
    case 'hung':
      return `hung: ${o.error}`;
    case 'crashed':
      return `the ${o.side} crashed: ${o.error}`;
    case 'dst-start-failed':
      return `destination failed to start: ${o.error}`;
    case 'guest-died':
      return `QEMU completed but the guest died: ${o.error}`;
    case 'guest-lost':
      return `guest lost (${o.side} died): ${o.error}`;
  }
}

/** The short label of an outcome (the compat grid's column, the row's `outcome`). */
export function outcomeLabel(o: Outcome): string {
  return o.kind === 'failed' ? o.status : o.kind;
}

/** The label an expectation wants (the compat grid's "expected" column). */
export function expectedLabel(e: Expectation): string {
  switch (e.kind) {
    case 'migrates':
      return 'migrated';
    case 'fails':
      return e.status;
    case 'dst-start-fails':
      return 'dst-start-failed';
    case 'crashes':
      return 'crashed';
    case 'guest-dies':
      return 'guest-died';
    case 'xfail':
      return `xfail: ${expectedLabel(e.expect)}`;
    default:
      return e.kind;
  }
}

const why = (e: Expectation) => ('why' in e && e.why ? ` (${e.why})` : '');

/** Whether a known failure covers these versions (either side). */
export const xfailApplies = (x: XFail, versions: { src: string; dst: string }) => x.versions.some((v) => versionMatches(versions.src, v) || versionMatches(versions.dst, v));

/** The one check of an outcome against its expectation; a known failure (xfail) is checked against the versions that have it. */
export function checkOutcome(e: Expectation, o: Outcome, versions?: { src: string; dst: string }): Verdict {
  if (e.kind === 'xfail') return checkXfail(e, o, versions);
  const said = describeOutcome(o);
  const fail = (wanted: string): Verdict => ({ ok: false, verdict: said, message: `expected ${wanted}${why(e)}, but ${said}` });
  switch (e.kind) {
    case 'skip':
      return fail(`a skip (${e.reason})`);
    case 'migrates':
      return o.kind === 'migrated' ? { ok: true, verdict: 'migrated' } : fail('to migrate');
    case 'fails':
      return o.kind === 'failed' && o.status === e.status ? { ok: true, verdict: `ended '${e.status}', as expected` } : fail(`the migration to end '${e.status}'`);
    case 'refused': {
      const wanted = `the ${e.side} to refuse ${STAGE[e.stage]} saying "${e.message}"`;
      const match = o.kind === 'refused' && o.side === e.side && o.stage === e.stage && o.error.includes(e.message);
      if (match) return { ok: true, verdict: `refused by the ${e.side}, as expected` };
      // Without return-path the source learns nothing of the destination's refusal: whether it
      // completed first (lost) or saw the socket close (failed) is a race, the refusal the same.
      if (e.side === 'destination' && e.stage === 'stream' && o.kind === 'lost' && o.error.includes(e.message))
        return { ok: true, verdict: 'refused by the destination, as expected; the source had already completed: lost' };
      return fail(wanted);
    }
    case 'dst-start-fails':
      return o.kind === 'dst-start-failed' && o.error.includes(e.message)
        ? { ok: true, verdict: 'the destination could not start, as expected' }
        : fail(`the destination to fail to start saying "${e.message}"`);
    case 'guest-dies':
      return o.kind === 'guest-died' ? { ok: true, verdict: 'QEMU completed, the guest died on the destination, as expected' } : fail('QEMU to complete and the guest to die on the destination');
    case 'guest-lost':
      return o.kind === 'guest-lost' && o.side === e.side ? { ok: true, verdict: 'guest lost, as expected' } : fail(`the guest to be lost with the ${e.side}`);
    case 'lost':
      return o.kind === 'lost' && (!e.message || o.error.includes(e.message))
        ? { ok: true, verdict: 'the source completed, the destination failed: lost, as expected' }
        : fail(`the source to complete and the destination to fail${e.message ? ` saying "${e.message}"` : ''}`);
    case 'wrong-run-state':
      return o.kind === 'wrong-run-state' && o.side === e.side && o.got === e.got
        ? { ok: true, verdict: `the ${e.side} ended '${e.got}', as expected` }
        : fail(`the ${e.side} to end in run state '${e.got}'`);
    case 'crashes':
      return o.kind === 'crashed' && o.side === e.side && (!e.message || o.error.includes(e.message))
        ? { ok: true, verdict: `the ${e.side} crashed, as expected` }
        : fail(`the ${e.side} to crash${e.message ? ` saying "${e.message}"` : ''}`);
  }
}

/**
 * A known failure: where its versions run, the case must still fail the known way (then it
 * passes, marked xfail); where it does what it should instead, the case fails saying the
 * failure is gone, so the xfail gets removed. Elsewhere, `otherwise` (default: migrates).
 */
function checkXfail(x: XFail, o: Outcome, versions?: { src: string; dst: string }): Verdict {
  const right = x.otherwise ?? { kind: 'migrates' };
  if (!versions || !xfailApplies(x, versions)) return checkOutcome(right, o, versions);
  const known = checkOutcome(x.expect, o);
  if (known.ok) return { ok: true, verdict: `xfail (${x.reason}): ${describeOutcome(o)}` };
  if (right.kind !== 'skip' && checkOutcome(right, o).ok)
    return { ok: false, verdict: describeOutcome(o), message: `a known failure is gone: on QEMU ${versions.src}->${versions.dst} the case now does what it should (${describeOutcome(o)}); remove its xfail (${x.reason})` };
  return { ok: false, verdict: describeOutcome(o), message: `expected the known failure (${x.reason}): ${known.message}` };
}

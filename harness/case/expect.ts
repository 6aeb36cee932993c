import type { Expectation, Outcome } from './model.js';

export interface Verdict {
  ok: boolean;
  /** For the results row: what the outcome means ("refused by the destination, as expected"). */
  verdict: string;
  /** Why the outcome does not match, naming both. */
  message?: string;
}

/** The outcome in a few words, as the compat report and failure messages say it. */
export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'migrated':
      return 'migrated';
    case 'refused':
      return `refused by the ${o.side} (${o.stage === 'settings' ? 'its settings' : 'the stream'}): ${o.error}`;
    case 'failed':
      return `ended '${o.status}'${o.error ? `: ${o.error}` : ''}`;
    case 'dst-start-failed':
      return `destination failed to start: ${o.error}`;
    case 'guest-died':
      return `QEMU completed but the guest died: ${o.error}`;
    case 'guest-lost':
      return `guest lost (${o.side} died): ${o.error}`;
  }
}

/** The short label of an outcome (the compat grid's column). */
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
    case 'guest-dies':
      return 'guest-died';
    default:
      return e.kind;
  }
}

const why = (e: Expectation) => ('why' in e && e.why ? ` (${e.why})` : '');

/** The one check of an outcome against its expectation. */
export function checkOutcome(e: Expectation, o: Outcome): Verdict {
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
      const wanted = `the ${e.side} to refuse ${e.stage === 'settings' ? 'its settings' : 'the stream'} saying "${e.message}"`;
      const match = o.kind === 'refused' && o.side === e.side && o.stage === e.stage && o.error.includes(e.message);
      return match ? { ok: true, verdict: `refused by the ${e.side}, as expected` } : fail(wanted);
    }
    case 'dst-start-fails':
      return o.kind === 'dst-start-failed' && o.error.includes(e.message)
        ? { ok: true, verdict: 'the destination could not start, as expected' }
        : fail(`the destination to fail to start saying "${e.message}"`);
    case 'guest-dies':
      return o.kind === 'guest-died' ? { ok: true, verdict: 'QEMU completed, the guest died on the destination, as expected' } : fail('QEMU to complete and the guest to die on the destination');
    case 'guest-lost':
      return o.kind === 'guest-lost' && o.side === e.side ? { ok: true, verdict: 'guest lost, as expected' } : fail(`the guest to be lost with the ${e.side}`);
  }
}

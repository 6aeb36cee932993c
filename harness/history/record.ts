import { ingest, ingestLine } from './ingest.js';
import { historySection } from './html.js';
import { loadRows, openStore } from './store.js';

/**
 * The end of a run with a store: its results.json into the store (a run already there stays
 * as it was), then report.html's history section from everything the store holds.
 */
export function recordRun(db: string, resultsFile: string): { html: string; line: string } {
  const store = openStore(db, '--history');
  try {
    const s = ingest(store, [resultsFile]);
    const runId = s.added[0] ?? s.known[0]!;
    return { html: historySection(loadRows(store), runId, { db }), line: `history: ${ingestLine(s, db)}` };
  } finally {
    store.close();
  }
}

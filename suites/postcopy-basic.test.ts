import { describe, expect } from 'vitest';
import { caseScenario, testArches, when } from '../harness/index.js';

describe.each(testArches())('postcopy-basic %s', (arch) => {
  const meta = { suite: 'postcopy-basic' };
  // The guest runs on the destination before its memory has all arrived: it beats there
  // while the source still reports postcopy-active, its missing pages fetched on demand.
  caseScenario({
    id: 'postcopy after the first pass: guest dirties throughout, RAM intact, blocktime recorded', arch, migration: { mode: 'postcopy' },
    hooks: { inPostcopy: async ({ dst, m }) => void (await dst.heartbeat!.waitForBeats(5), await when.progress('postcopy-active', 0.3).wait(m)) },
  }, meta, ({ run, figures }) => {
    const statuses = run.src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => e.data?.status);
    expect(statuses).toEqual(expect.arrayContaining(['active', 'postcopy-active', 'completed']));
    expect(figures.postcopyRequests).toBeGreaterThan(0);
    expect(figures.postcopyBlocktimeMs).toBeGreaterThan(0);
  });

  // postcopy-preempt is usable from 8.0 (the engine skips older binaries, naming the version).
  let channels = 0;
  caseScenario({
    id: 'postcopy-preempt: urgent pages on a second channel, RAM intact', arch, migration: { mode: 'postcopy', postcopy: { preempt: true } },
    hooks: { inPostcopy: async ({ dst, m }) => void (await when.progress('postcopy-active', 0.2).wait(m), (channels = (await dst.group()).sockets.filter((s) => s.state === 'ESTABLISHED').length)) },
  }, meta, () => {
    expect(channels).toBeGreaterThanOrEqual(2);
    return { extra: { destinationConnections: channels } };
  });
});

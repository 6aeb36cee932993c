import { describe, expect } from 'vitest';
import { behaviourOf, caseScenario, testArches, when } from '../harness/index.js';

describe.each(testArches())('postcopy-basic %s', (arch) => {
  const meta = { suite: 'postcopy-basic' };
  // The guest runs on the destination before its memory has all arrived: it beats there
  // while the source still reports postcopy-active, its missing pages fetched on demand.
  caseScenario({
    id: 'postcopy after the first pass: guest dirties throughout, RAM intact, blocktime recorded', arch, migration: { mode: 'postcopy' },
    hooks: { inPostcopy: async ({ dst, m }) => void (await dst.heartbeat!.waitForBeats(5), await when.progress('postcopy-active', 0.3).wait(m)) },
  }, meta, ({ run, figures }) => {
    const statuses = run.src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => String(e.data?.status));
    expect(statuses).toEqual(expect.arrayContaining(['active', 'postcopy-active', 'completed']));
    // What each version says at the switch, and what it measures (qemu/behaviour.ts).
    const b = behaviourOf(run.versions.src);
    expect(statuses.includes('postcopy-device'), `postcopy-device in ${statuses.join(' ')}`).toBe(b.statuses.postcopyDevice);
    expect(figures.postcopyRequests).toBeGreaterThan(0);
    expect(figures.postcopyBlocktimeMs).toBeGreaterThan(0);
    expect(figures.postcopyLatencyUs !== undefined, `postcopy-latency on QEMU ${run.versions.dst}`).toBe(behaviourOf(run.versions.dst).postcopyLatency);
    if (b.postcopyLatency) expect(figures.postcopyRemoteFaults).toBeGreaterThan(0);
    return { extra: { statuses } };
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

import { describe, expect } from 'vitest';
import { tcpSocketsOf } from '../harness/host/sockets.js';
import { when } from '../harness/faults/trigger.js';
import { testArches } from '../harness/testing/arches.js';
import { completePostcopy, startPostcopy } from '../harness/testing/postcopy.js';
import { lacksCapability } from '../harness/testing/requires.js';
import { scenario } from '../harness/testing/scenario.js';

const SUITE = 'postcopy-basic';

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  scenario('postcopy after the first pass: guest dirties throughout, RAM intact, blocktime recorded', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch, { bridged: false });
    // The guest runs on the destination before its memory has all arrived: it beats there
    // while the source still reports postcopy-active, its missing pages fetched on demand.
    await run.dst.heartbeat!.waitForBeats(5);
    await when.progress('postcopy-active', 0.3).wait(run.m);
    await completePostcopy(ctx, run);
    const statuses = run.src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => e.data?.status);
    expect(statuses).toEqual(expect.arrayContaining(['active', 'postcopy-active', 'completed']));
    expect(ctx.result.postcopyRequests).toBeGreaterThan(0);
    expect(ctx.result.postcopyBlocktimeMs).toBeGreaterThan(0);
  });

  scenario('postcopy-preempt: urgent pages on a second channel, RAM intact', { suite: SUITE, arch }, async (ctx) => {
    const lacks = await lacksCapability(arch, 'postcopy-preempt', '8.0');
    if (lacks) return ctx.skip(lacks);
    const run = await startPostcopy(ctx, arch, { bridged: false, preempt: true });
    await when.progress('postcopy-active', 0.2).wait(run.m);
    const channels = tcpSocketsOf(run.dst.process.pid).filter((s) => s.state === 'ESTABLISHED');
    expect(channels.length).toBeGreaterThanOrEqual(2);
    await completePostcopy(ctx, run);
    ctx.result.extra = { destinationConnections: channels.length };
  });
});

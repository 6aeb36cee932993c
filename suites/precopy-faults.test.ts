import { describe, expect } from 'vitest';
import { fault } from '../harness/case/faults.js';
import { runCase, caseRow } from '../harness/case/run.js';
import { NetnsLink } from '../harness/faults/netns.js';
import { when } from '../harness/migration/triggers.js';
import { testArches } from '../harness/testing/arches.js';
import { caseScenario, scenario } from '../harness/testing/scenario.js';
import type { VmBuilder } from '../harness/vm/builder.js';

const SUITE = 'precopy-faults';
// 32 MiB/s: a 256 MiB guest stays in 'active' for a few seconds, long enough to be hit.
const SLOW = { 'max-bandwidth': 32 << 20 };
const hit = () => when.progress('active', 0.2);
// A hang is silent: QEMU reports no error, the figures just stop. Cancel once that is seen.
const cancelWhenStuck = () => fault.cancel(when.stalled('active', 2000));

// Each failure leaves the source running with intact RAM, and a retry to a fresh destination
// migrates (the case's default after a failure).
describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE, arch };
  // The bridge cases run across two hosts too (the bridge on the source's host).
  const across = { ...meta, twoHosts: true };
  const bridged = { parameters: SLOW, bridged: true };
  caseScenario({
    id: 'bridge killed during precopy: failed, source intact, retry succeeds', arch, migration: bridged,
    faults: [fault.killBridge(hit())], expect: { kind: 'fails', status: 'failed' },
  }, across, ({ outcome }) => void expect(outcome.kind === 'failed' && outcome.error).toBeTruthy());

  caseScenario({
    id: 'bridge stalled (SIGSTOP): no progress, cancelled, source intact, retry succeeds', arch, migration: bridged,
    faults: [fault.stallBridge(hit()), cancelWhenStuck()], expect: { kind: 'fails', status: 'cancelled' },
  }, across, ({ faults }) => ({ extra: { stuckAtBytes: faults[1]!.sample.transferred } }));

  scenario('silent partition (netns + nftables drop) during precopy: cancelled, source intact, healed retry succeeds', { ...meta, oneHost: 'puts both sides in network namespaces of this machine (two-hosts has the partition across hosts)' }, async (ctx) => {
    const link = ctx.track(await NetnsLink.create());
    const inB = { configure: (b: VmBuilder) => b.withNetns(link.b.name) };
    const report = await runCase(ctx, {
      id: 'partition', arch, source: { configure: (b) => b.withNetns(link.a.name) }, destination: inB, migration: { parameters: SLOW, listenHost: link.b.addr },
      faults: [fault.custom('partition', hit(), () => link.partition()), cancelWhenStuck()], expect: { kind: 'fails', status: 'cancelled' },
      hooks: { beforeRetry: () => link.heal() }, retry: { destination: inB, migration: { listenHost: link.b.addr } },
    });
    expect(report.run.m!.uri).toMatch(new RegExp(`^tcp:${link.b.addr.replace(/\./g, '\\.')}:\\d+$`));
    return caseRow(report);
  });
});

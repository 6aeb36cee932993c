import { describe, expect } from 'vitest';
import { behaviourOf, caseScenario, fault, testArches, when } from '../harness/index.js';

const SUITE = 'precopy-faults';
// 32 MiB/s: a 256 MiB guest stays in 'active' for a few seconds, long enough to be hit.
const SLOW = { 'max-bandwidth': 32 << 20 };
const hit = () => when.progress('active', 0.2);
// A hang is silent: QEMU reports no error, the figures just stop. Cancel once that is seen.
const cancelWhenStuck = () => fault.cancel(when.stalled('active', 2000));

// Each failure leaves the source running with intact RAM, and a retry to a fresh destination
// migrates (the case's default after a failure). Across two hosts too: the bridge on the
// source's host, the partition by nftables there.
describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE };
  const bridged = { parameters: SLOW, bridged: true };
  caseScenario({
    id: 'bridge killed during precopy: failed, source intact, retry succeeds', arch, migration: bridged,
    faults: [fault.killBridge(hit())], expect: { kind: 'fails', status: 'failed' },
  }, meta, ({ outcome, run }) => {
    expect(outcome.kind === 'failed' && outcome.error).toBeTruthy();
    // 11.0+ says failing (cleaning up) before failed (qemu/behaviour.ts).
    const statuses = run.src.qmp.events.filter((e) => e.event === 'MIGRATION').map((e) => String(e.data?.status));
    const failed = statuses.indexOf('failed');
    expect(statuses[failed - 1] === 'failing', `before failed: ${statuses.slice(0, failed + 1).join(' ')}`).toBe(behaviourOf(run.versions.src).statuses.failing);
    return { extra: { statuses: statuses.slice(0, failed + 1) } };
  });

  caseScenario({
    id: 'bridge stalled (SIGSTOP): no progress, cancelled, source intact, retry succeeds', arch, migration: bridged,
    faults: [fault.stallBridge(hit()), cancelWhenStuck()], expect: { kind: 'fails', status: 'cancelled' },
  }, meta, ({ faults }) => ({ extra: { stuckAtBytes: faults[1]!.sample.transferred } }));

  // One host: both sides in network namespaces joined by a veth the partition drops; the
  // retry's fresh destination goes into the destination's namespace, after the heal.
  caseScenario({
    id: 'silent partition during precopy: cancelled, source intact, healed retry succeeds', arch, migration: { parameters: SLOW },
    faults: [fault.partition(hit()), cancelWhenStuck()], expect: { kind: 'fails', status: 'cancelled' },
  }, meta, ({ migration, run, retry }) => {
    expect(migration!.uri.startsWith(`tcp:${run.dst.listenAddress}:`)).toBe(true);
    expect(retry).toBeDefined();
  });
});

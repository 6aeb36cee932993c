import { describe, expect } from 'vitest';
import { fault } from '../harness/case/faults.js';
import type { CaseRun, MigrationCase } from '../harness/case/model.js';
import { beginCase, caseRow, finishCase } from '../harness/case/run.js';
import { parseTcpUri } from '../harness/faults/bridge.js';
import { NetnsLink } from '../harness/faults/netns.js';
import { PortBlackhole } from '../harness/faults/nft.js';
import { loopbackListener } from '../harness/host/ports.js';
import { beginRecovery, marks, measureEpisode, pauseSides, recoverPostcopy, waitBothPaused } from '../harness/migration/postcopy.js';
import { injectAt, when } from '../harness/migration/triggers.js';
import { testArches } from '../harness/testing/arches.js';
import { lacksCapability } from '../harness/testing/requires.js';
import { caseScenario, scenario } from '../harness/testing/scenario.js';

const SUITE = 'postcopy-recovery';
const at = (fraction: number) => when.progress('postcopy-active', fraction);

/** Kills the current bridge once postcopy has sent `fraction` of what remained; returns when both sides paused. */
async function killBridgeInPostcopy(run: CaseRun, fraction = 0.2) {
  const since = marks(run.m!);
  const { value: dead, record } = await injectAt(run.m!, at(fraction), 'bridge killed (SIGKILL to its group)', () => run.bridges!.current.kill());
  const pausedAt = await waitBothPaused(run.m!, { since });
  return { dead, faultAt: record.at, pausedAt };
}

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE, arch };
  // Across two hosts too (--hosts): the bridges run on the source's host. Not the scenarios
  // that use this machine's network namespaces or nftables, or loopback ports of their own.
  const across = { ...meta, twoHosts: true };
  /** Postcopy through a bridge, driven step by step by the scenario. */
  const bridged = (id: string, more: Partial<MigrationCase> = {}): MigrationCase => ({ id, arch, migration: { mode: 'postcopy', bridged: true }, ...more });

  // While paused the guest blocks on the first page it lacks: its heartbeat goes silent.
  const silent = (run: CaseRun) => run.dst.heartbeat!.waitForSilence(1000);
  caseScenario({ id: 'bridge killed in postcopy: both pause, OOB recover over a second bridge; stall measured', arch, migration: { mode: 'recovery' }, faults: [fault.killBridge(at(0.2), silent)] }, across, ({ run, episodes }) => {
    expect(episodes[0]!.uri).not.toBe(run.m!.uri);
    expect(run.bridges!.bridges).toHaveLength(2);
    expect(episodes[0]!.figures.heartbeatGapMs).toBeGreaterThanOrEqual(1000);
  });

  scenario('bridge restarted on the same port: the source resumes to its first URI', across, async (ctx) => {
    const run = await beginCase(ctx, bridged('restart'));
    const { dead, faultAt, pausedAt } = await killBridgeInPostcopy(run);
    // The destination listens on a new port; the bridge comes back on the old one, toward it.
    const rec = await recoverPostcopy(run.m!, {
      route: async (dstUri) => run.bridges!.adopt(await dead.restart({ target: parseTcpUri(dstUri) })).uri,
    });
    expect(rec.uri).toBe(run.m!.uri);
    const recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 1);
    return { ...caseRow(await finishCase(run)), recovery };
  });

  caseScenario({ id: 'migrate-pause on the source (qtest style), then recovery', arch, migration: { mode: 'recovery', bridged: false }, faults: [fault.pause(['source'])] }, across);

  scenario('silent partition (netns + nftables drop): migrate-pause on both sides, heal, recover', { ...meta, oneHost: 'puts both sides in network namespaces of this machine (two-hosts has the partition across hosts)' }, async (ctx) => {
    const link = ctx.track(await NetnsLink.create());
    const run = await beginCase(ctx, {
      id: 'partition', arch, migration: { mode: 'postcopy', listenHost: link.b.addr },
      source: { configure: (b) => b.withNetns(link.a.name) }, destination: { configure: (b) => b.withNetns(link.b.name) },
    });
    const { record } = await injectAt(run.m!, at(0.2), 'partition (drop both ways on the veth)', () => link.partition());
    // Nobody notices a silent partition: no error, no event, only no progress.
    await when.stalled('postcopy-active', 2000).wait(run.m!);
    expect(run.src.lastMigrationStatus).toBe('postcopy-active');
    const since = marks(run.m!);
    await pauseSides([run.src, run.dst]);
    const pausedAt = await waitBothPaused(run.m!, { since });
    await link.heal();
    const rec = await recoverPostcopy(run.m!, { listenHost: link.b.addr });
    const recovery = await measureEpisode(run.dst, record.at, pausedAt, rec.at, 1);
    return { ...caseRow(await finishCase(run)), recovery };
  });

  scenario('failure during the recovery handshake, then a second recovery', { ...meta, oneHost: "drops the destination's replies with nftables on this machine" }, async (ctx) => {
    const run = await beginCase(ctx, bridged('handshake'));
    const { faultAt } = await killBridgeInPostcopy(run);
    // The destination's replies are dropped (all but its SYN-ACK): both sides connect and
    // enter postcopy-recover, and the handshake can never finish.
    let hole: PortBlackhole | undefined;
    const pending = await beginRecovery(run.m!, {
      route: async (dstUri) => {
        hole = ctx.track(await PortBlackhole.start(parseTcpUri(dstUri).port, 'from'));
        return run.bridges!.route(dstUri);
      },
    });
    await pending.inHandshake();
    const since = marks(run.m!);
    await run.bridges!.current.kill();
    await hole!.stop();
    const pausedAt = await waitBothPaused(run.m!, { since });
    const rec = await recoverPostcopy(run.m!, { route: run.bridges!.route });
    expect(run.bridges!.bridges).toHaveLength(3);
    const recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 2);
    return { ...caseRow(await finishCase(run)), recovery };
  });

  caseScenario({ id: 'second failure after resuming: recovered twice', arch, migration: { mode: 'recovery' }, faults: [fault.killBridge(at(0.1)), fault.killBridge(at(0.4))] }, across, ({ run, episodes }) => {
    const pausedEvents = run.src.qmp.events.filter((e) => e.event === 'MIGRATION' && e.data?.status === 'postcopy-paused');
    expect(pausedEvents).toHaveLength(2);
    return { extra: { firstFailureToPausedMs: episodes[0]!.figures.failureToPausedMs } };
  });

  scenario('postcopy-preempt: both channels cut, recovered', across, async (ctx) => {
    const lacks = await lacksCapability(arch, 'postcopy-preempt', '8.0');
    if (lacks) return ctx.skip(lacks);
    const run = await beginCase(ctx, bridged('preempt', { migration: { mode: 'postcopy', bridged: true, postcopy: { preempt: true } } }));
    // Preempt opens a second connection for urgent pages: both go through the bridge.
    await run.bridges!.current.waitForConnections(2);
    const { faultAt, pausedAt } = await killBridgeInPostcopy(run);
    const rec = await recoverPostcopy(run.m!, { route: run.bridges!.route });
    await run.bridges!.current.waitForConnections(2);
    expect((await run.dst.group()).sockets.filter((s) => s.state === 'ESTABLISHED').length).toBeGreaterThanOrEqual(2);
    const recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 1);
    return { ...caseRow(await finishCase(run)), recovery };
  });

  // The recovery API's own promises: a side already paused counts as paused; a resume to a
  // closed port fails as soon as QEMU says so (10.0: an event; 7.2: only its stderr), not at
  // a deadline; the destination can listen on a port the harness chose.
  scenario('a failed resume is reported at once; recovery on a chosen port then succeeds', { ...meta, oneHost: "resumes to loopback ports of this machine" }, async (ctx) => {
    const run = await beginCase(ctx, { id: 'failed resume', arch, migration: { mode: 'postcopy' } });
    const m = run.m!;
    const { record } = await injectAt(m, at(0.2), 'migrate-pause (OOB) on the source', () => pauseSides([run.src]));
    const pausedAt = await waitBothPaused(m);
    // Both are paused already: asking again returns at once, with the same time.
    expect(await waitBothPaused(m, { timeoutMs: 1000 })).toBe(pausedAt);
    const closed = await loopbackListener();
    await closed.close();
    const chosen = await loopbackListener();
    await chosen.close();
    const pending = await beginRecovery(m, { listenPort: chosen.port, route: async () => `tcp:127.0.0.1:${closed.port}` });
    expect(pending.dstUri).toBe(`tcp:127.0.0.1:${chosen.port}`);
    const failed = await pending.outcome({ timeoutMs: 15_000 });
    expect(failed.outcome).toBe('postcopy-paused');
    expect(failed.error).toMatch(/Failed to connect|Connection refused/);
    // The destination still listens on the chosen port: resume to it.
    const ok = await (await pending.resumeAgain()).outcome();
    expect(ok.outcome).toBe('postcopy-active');
    const recovery = await measureEpisode(run.dst, record.at, pausedAt, ok.at, 2);
    return { ...caseRow(await finishCase(run)), recovery, extra: { failedResume: failed.error } };
  });
});

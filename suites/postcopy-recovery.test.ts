import { describe, expect } from 'vitest';
import { parseTcpUri } from '../harness/faults/bridge.js';
import { NetnsLink } from '../harness/faults/netns.js';
import { PortBlackhole } from '../harness/faults/nft.js';
import { injectAt, when } from '../harness/faults/trigger.js';
import {
  beginRecovery,
  marks,
  measureEpisode,
  pauseSides,
  recoverPostcopy,
  waitBothPaused,
} from '../harness/migration/postcopy.js';
import { tcpSocketsOf } from '../harness/host/sockets.js';
import { testArches } from '../harness/testing/arches.js';
import { completePostcopy, startPostcopy, type PostcopyRun } from '../harness/testing/postcopy.js';
import { lacksCapability } from '../harness/testing/requires.js';
import { scenario } from '../harness/testing/scenario.js';

const SUITE = 'postcopy-recovery';

/** Kills the current bridge once postcopy has sent `fraction` of what remained; returns when both sides paused. */
async function killBridgeInPostcopy(run: PostcopyRun, fraction = 0.2) {
  const since = marks(run.m);
  const { value: dead, record } = await injectAt(run.m, when.progress('postcopy-active', fraction), 'bridge killed (SIGKILL to its group)', () =>
    run.bridges.current.kill(),
  );
  const pausedAt = await waitBothPaused(run.m, since);
  return { dead, faultAt: record.at, pausedAt };
}

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  scenario('bridge killed in postcopy: both pause, OOB recover over a second bridge; stall measured', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch);
    const { faultAt, pausedAt } = await killBridgeInPostcopy(run);
    // While paused the guest blocks on the first page it lacks: its heartbeat goes silent.
    await run.dst.heartbeat!.waitForSilence(1000);
    const rec = await recoverPostcopy(run.m, { route: run.bridges.route });
    expect(rec.uri).not.toBe(run.m.uri);
    expect(run.bridges.bridges).toHaveLength(2);
    ctx.result.recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 1);
    expect(ctx.result.recovery.heartbeatGapMs).toBeGreaterThanOrEqual(1000);
    await completePostcopy(ctx, run);
  });

  scenario('bridge restarted on the same port: the source resumes to its first URI', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch);
    const { dead, faultAt, pausedAt } = await killBridgeInPostcopy(run);
    // The destination listens on a new port; the bridge comes back on the old one, toward it.
    const rec = await recoverPostcopy(run.m, {
      route: async (dstUri) => run.bridges.adopt(await dead.restart({ target: parseTcpUri(dstUri) })).uri,
    });
    expect(rec.uri).toBe(run.m.uri);
    ctx.result.recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 1);
    await completePostcopy(ctx, run);
  });

  scenario('migrate-pause on the source (qtest style), then recovery', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch, { bridged: false });
    const since = marks(run.m);
    const { record } = await injectAt(run.m, when.progress('postcopy-active', 0.2), 'migrate-pause (OOB) on the source', () => pauseSides([run.src]));
    // The source shuts its socket down; the destination reads EOF and pauses too.
    const pausedAt = await waitBothPaused(run.m, since);
    const rec = await recoverPostcopy(run.m);
    ctx.result.recovery = await measureEpisode(run.dst, record.at, pausedAt, rec.at, 1);
    await completePostcopy(ctx, run);
  });

  scenario('silent partition (netns + nftables drop): migrate-pause on both sides, heal, recover', { suite: SUITE, arch }, async (ctx) => {
    const link = ctx.track(await NetnsLink.create());
    const run = await startPostcopy(ctx, arch, {
      bridged: false,
      configure: (b) => b.withNetns(link.a.name),
      configureDst: (b) => b.withNetns(link.b.name),
      migrate: { listenHost: link.b.addr },
    });
    const { record } = await injectAt(run.m, when.progress('postcopy-active', 0.2), 'partition (drop both ways on the veth)', () => link.partition());
    // Nobody notices a silent partition: no error, no event, only no progress.
    await when.stalled('postcopy-active', 2000).wait(run.m);
    expect(run.src.lastMigrationStatus).toBe('postcopy-active');
    const since = marks(run.m);
    await pauseSides([run.src, run.dst]);
    const pausedAt = await waitBothPaused(run.m, since);
    await link.heal();
    const rec = await recoverPostcopy(run.m, { listenHost: link.b.addr });
    ctx.result.recovery = await measureEpisode(run.dst, record.at, pausedAt, rec.at, 1);
    await completePostcopy(ctx, run);
  });

  scenario('failure during the recovery handshake, then a second recovery', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch);
    const { faultAt } = await killBridgeInPostcopy(run);
    // The destination's replies are dropped (all but its SYN-ACK): both sides connect and
    // enter postcopy-recover, and the handshake can never finish.
    let hole: PortBlackhole | undefined;
    const pending = await beginRecovery(run.m, {
      route: async (dstUri) => {
        hole = ctx.track(await PortBlackhole.start(parseTcpUri(dstUri).port, 'from'));
        return run.bridges.route(dstUri);
      },
    });
    await pending.inHandshake();
    const since = marks(run.m);
    await run.bridges.current.kill();
    await hole!.stop();
    const pausedAt = await waitBothPaused(run.m, since);
    const rec = await recoverPostcopy(run.m, { route: run.bridges.route });
    expect(run.bridges.bridges).toHaveLength(3);
    ctx.result.recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 2);
    await completePostcopy(ctx, run);
  });

  scenario('second failure after resuming: recovered twice', { suite: SUITE, arch }, async (ctx) => {
    const run = await startPostcopy(ctx, arch);
    const first = await killBridgeInPostcopy(run, 0.1);
    await recoverPostcopy(run.m, { route: run.bridges.route });
    const second = await killBridgeInPostcopy(run, 0.4);
    const rec = await recoverPostcopy(run.m, { route: run.bridges.route });
    const pausedEvents = run.src.qmp.events.filter((e) => e.event === 'MIGRATION' && e.data?.status === 'postcopy-paused');
    expect(pausedEvents).toHaveLength(2);
    ctx.result.recovery = await measureEpisode(run.dst, second.faultAt, second.pausedAt, rec.at, 2);
    ctx.result.extra = { firstFailureToPausedMs: first.pausedAt - first.faultAt };
    await completePostcopy(ctx, run);
  });

  scenario('postcopy-preempt: both channels cut, recovered', { suite: SUITE, arch }, async (ctx) => {
    const lacks = await lacksCapability(arch, 'postcopy-preempt', '8.0');
    if (lacks) return ctx.skip(lacks);
    const run = await startPostcopy(ctx, arch, { preempt: true });
    // Preempt opens a second connection for urgent pages: both go through the bridge.
    await run.bridges.current.waitForConnections(2);
    const { faultAt, pausedAt } = await killBridgeInPostcopy(run);
    const rec = await recoverPostcopy(run.m, { route: run.bridges.route });
    await run.bridges.current.waitForConnections(2);
    expect(tcpSocketsOf(run.dst.process.pid).filter((s) => s.state === 'ESTABLISHED').length).toBeGreaterThanOrEqual(2);
    ctx.result.recovery = await measureEpisode(run.dst, faultAt, pausedAt, rec.at, 1);
    await completePostcopy(ctx, run);
  });
});

import { describe, expect } from 'vitest';
import { eventTimeMs, GUEST_MAC, DEADLINES, lacksVhostNet, NetLivenessError, scenario, startLanPair, testArches } from '../harness/index.js';

// The guest on a virtio-net NIC (tap on a bridge, in a namespace), pinged every 10 ms by a
// peer on the bridge through the migration. The bridge learnt the guest's MAC on the source's
// tap: only a frame from the destination's tap (the announce) moves it.
describe.each(testArches())('net-liveness %s', (arch) => {
  for (const vhost of [false, true]) {
    scenario(`ping every 10 ms across live migration${vhost ? ' (vhost-net)' : ''}`, { suite: 'net-liveness', arch, oneHost: "the guest's LAN and the peer pinging it are network namespaces of this machine" }, async (ctx) => {
      const lacks = vhost ? lacksVhostNet() : undefined;
      if (lacks) ctx.skip(lacks);
      const pair = await startLanPair(ctx, arch, { vhost });
      const { src, dst, lan, probe } = pair;
      await probe.waitAnswering(20);
      // Control: the same guest and peer for 200 pings (2 s) without a migration: no loss, no long gap.
      const controlFrom = Date.now();
      await probe.waitAnswering(200, { since: controlFrom });
      const control = probe.figures();
      expect(control.lost).toBe(0);
      expect(await lan.fdbPort(GUEST_MAC)).toBe('tsrc');

      const { migration: m, liveness, figures } = await (await pair.migrate()).finish();
      const migration = m!;
      ctx.record(figures);
      const resumedAt = eventTimeMs(dst.qmp.events.find((e) => e.event === 'RESUME')!);
      const stoppedAt = eventTimeMs(src.qmp.events.findLast((e) => e.event === 'STOP')!);
      // 120 replies at 10 ms: past QEMU's last announce round (50 + 150 + 250 + 350 ms by default).
      await probe.waitAnswering(120, { since: resumedAt });
      const net = probe.summary(resumedAt, vhost, stoppedAt);
      ctx.record({ net });
      ctx.artifacts.writeJson('net.json', { net, control: { ...control, fromMs: controlFrom }, qemuDowntimeMs: migration.info.downtime, guestDowntimeMs: liveness!.guestObservedDowntimeMs });
      // The announce moved the MAC to the destination's tap: QEMU's RARP, then the guest's own.
      expect(net.rarp).toBeGreaterThan(0);
      expect(await lan.fdbPort(GUEST_MAC)).toBe('tdst');
    });
  }

  scenario('without self-announce the peer loses the guest; announce-self brings it back', { suite: 'net-liveness', arch, oneHost: "the guest's LAN and the peer pinging it are network namespaces of this machine" }, async (ctx) => {
    // Fault: no announce rounds. The guest runs on the destination, but frames for its MAC still go to the source's tap.
    const pair = await startLanPair(ctx, arch, { migration: { parameters: { 'announce-rounds': 0 } } });
    const { dst, lan, probe } = pair;
    await probe.waitAnswering(20);
    // A ping the guest received before the switchover is answered from the destination's tap,
    // and that reply alone moves the MAC: keep the guest silent across the switchover.
    probe.pause();
    await probe.waitQuiet(200);
    ctx.record((await (await pair.migrate()).finish()).figures);
    const resumedAt = eventTimeMs(dst.qmp.events.find((e) => e.event === 'RESUME')!);
    probe.resume();
    const err = await probe.waitAnswering(20, { since: resumedAt, timeoutMs: DEADLINES.expectedToFail }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(NetLivenessError);
    expect(await lan.fdbPort(GUEST_MAC)).toBe('tsrc');
    expect(probe.summary(resumedAt, false).rarp).toBe(0);
    // Repair: one announce from the destination and the peer reaches the guest again.
    const announcedAt = Date.now();
    await dst.qmp.execute('announce-self', { initial: 50, max: 550, rounds: 1, step: 100 });
    await probe.waitAnswering(20, { since: announcedAt });
    expect(await lan.fdbPort(GUEST_MAC)).toBe('tdst');
    return { net: probe.summary(resumedAt, false), extra: { caught: (err as Error).message } };
  });
});

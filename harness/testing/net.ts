import { existsSync } from 'node:fs';
import type { Arch } from '../util/arch.js';
import { startPair } from '../case/run.js';
import type { MigrationSpec, PreparedRun } from '../case/model.js';
import { GuestLan } from '../net/lan.js';
import { NetProbe } from '../net/probe.js';
import { MigtestError } from '../util/errors.js';
import type { QmpEvent } from '../qmp/types.js';
import type { Scope } from '../vm/pool.js';

export const GUEST_MAC = '52:54:00:6d:74:01';

/** The host lacks vhost-net: the reason a vhost scenario is skipped, or undefined. */
export function lacksVhostNet(): string | undefined {
  return existsSync('/dev/vhost-net') ? undefined : 'no /dev/vhost-net on this host (vhost_net module not loaded or not available)';
}

export const eventTimeMs = (e: QmpEvent) => e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;

/**
 * A pair on a guest LAN: both QEMUs in the LAN's namespace, the source on tap tsrc, the
 * destination on tdst, the same MAC; the guest configured with its address; a peer pinging it.
 */
export async function startLanPair(ctx: Scope, arch: Arch, opts: { vhost?: boolean; intervalMs?: number; migration?: MigrationSpec } = {}): Promise<PreparedRun & { lan: GuestLan; probe: NetProbe }> {
  const lan = ctx.track(await GuestLan.create());
  const nic = { id: 'net0', backend: 'tap' as const, mac: GUEST_MAC, vhost: opts.vhost };
  const pair = await startPair(ctx, {
    id: 'a pair on a guest LAN',
    arch,
    workload: false,
    migration: opts.migration,
    source: { configure: (b) => b.withNetns(lan.netns).withNic({ ...nic, ifname: 'tsrc' }) },
    destination: { configure: (b) => b.withoutNic(nic.id).withNic({ ...nic, ifname: 'tdst' }) },
  });
  const ga = await pair.src.agent();
  // Permanent neighbours on both ends and no IPv6: the guest sends nothing of its own (no ARP
  // probe, no router solicitation or MLD report), so what moves its MAC to the destination's
  // tap is the announce alone; otherwise such chatter would do it at random times.
  await lan.pinNeighbour(lan.guestAddr, GUEST_MAC);
  const noV6 = await ga.exec('/bin/busybox', ['sysctl', '-w', 'net.ipv6.conf.eth0.disable_ipv6=1']);
  if (noV6.exitcode !== 0) throw new MigtestError(`guest: disabling IPv6 on eth0 failed: ${noV6.stderr.trim()}`);
  const guestIp = [
    ['link', 'set', 'eth0', 'up'],
    ['addr', 'add', `${lan.guestAddr}/${lan.prefix}`, 'dev', 'eth0'],
    ['neigh', 'replace', lan.hostAddr, 'lladdr', lan.bridgeMac, 'dev', 'eth0', 'nud', 'permanent'],
  ];
  for (const args of guestIp) {
    const r = await ga.exec('/bin/ip', args);
    if (r.exitcode !== 0) throw new MigtestError(`guest: ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  }
  // The guest speaks first, so the bridge learns its MAC on the source's tap before any frame
  // for it is flooded: a flooded frame would also wait in the destination's tap and reach the
  // guest after the switchover (seen: pings answered twice, the late reply moving the MAC).
  const hello = await ga.exec('/bin/ping', ['-c', '1', '-W', '5', lan.hostAddr]);
  if (hello.exitcode !== 0) throw new MigtestError(`guest: ping ${lan.hostAddr} failed: ${hello.stdout.trim()} ${hello.stderr.trim()}`);
  const probe = ctx.track(await NetProbe.start(lan, GUEST_MAC, ctx.artifacts, opts.intervalMs ?? 10));
  return Object.assign(pair, { lan, probe });
}

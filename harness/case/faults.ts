import { parseTcpUri } from '../faults/bridge.js';
import { HostPartition } from '../faults/host-partition.js';
import { NetnsLink } from '../faults/netns.js';
import { PortBlackhole } from '../faults/nft.js';
import type { Side } from '../migration/migrate.js';
import { pauseSides } from '../migration/recovery.js';
import { when, type Trigger } from '../migration/triggers.js';
import { MigtestError } from '../util/errors.js';
import type { FaultSpec, MigratingRun, PairRun } from './model.js';

const bridge = (run: PairRun) => {
  if (!run.bridges) throw new MigtestError(`${run.case.id}: a bridge fault needs migration.bridged`);
  return run.bridges;
};

/** Where most faults hit: a fifth of what remained sent, in precopy or postcopy. */
const midPrecopy = () => when.progress('active', 0.2);
const midPostcopy = () => when.progress('postcopy-active', 0.2);

/**
 * A silent partition of the migration link: nothing at all reaches the other side, no RST,
 * no FIN, no error, only no progress. On one host both QEMUs run in network namespaces
 * joined by a veth (set up before the pair starts) and the veth drops everything; across two
 * hosts nftables on the source's host drops the migration port's packets both ways.
 */
function partition(at: Trigger): FaultSpec {
  let link: NetnsLink | undefined;
  let cut: HostPartition | undefined;
  return {
    name: 'partition (every packet dropped both ways)',
    at,
    async setup({ scope, twoHosts }) {
      if (twoHosts) return;
      const l = scope.track(await NetnsLink.create());
      link = l;
      return { source: (b) => b.withNetns(l.a.name), destination: (b) => b.withNetns(l.b.name), listenHost: l.b.addr };
    },
    async fire(run: MigratingRun) {
      if (link) return link.partition();
      if (!run.src.host || !run.dst.listenAddress) throw new MigtestError(`${run.case.id}: a partition across hosts needs both sides on the hosts file's hosts`);
      cut = run.scope.track(new HostPartition(run.src.host, run.dst.listenAddress, parseTcpUri(run.m.uri).port));
      await cut.partition();
    },
    async heal() {
      await link?.heal();
      await cut?.heal();
    },
  };
}

/**
 * During a recovery's handshake: the destination's replies on its new port are dropped (all
 * but its SYN-ACK), so both sides enter postcopy-recover and the handshake can never finish;
 * then the bridge is killed and the drop lifted: both pause again, for the next recovery.
 */
function stallRecovery(): FaultSpec {
  let hole: PortBlackhole | undefined;
  return {
    name: "recovery channel stalled (the destination's replies dropped), then the bridge killed",
    at: 'recovery-handshake',
    oneHost: "drops the destination's replies with nftables on this machine",
    async intercept(run, dstUri) {
      hole = run.scope.track(await PortBlackhole.start(parseTcpUri(dstUri).port, 'from'));
    },
    fire: (run) => bridge(run).killCurrent(),
    heal: async () => void (await hole?.stop()),
  };
}

/** The faults cases declare; each fires at a state of the migration. */
export const fault = {
  /** SIGKILL to the bridge's process group: the link dies at once. */
  killBridge: (at: Trigger = midPostcopy(), whilePaused?: FaultSpec['whilePaused']): FaultSpec => ({
    name: 'bridge killed (SIGKILL to its group)',
    at,
    fire: (run) => bridge(run).killCurrent(),
    whilePaused,
  }),
  /** SIGSTOP to the bridge: the link hangs silently. */
  stallBridge: (at: Trigger = midPrecopy()): FaultSpec => ({ name: 'bridge stalled (SIGSTOP)', at, fire: async (run) => bridge(run).current.stall() }),
  /** migrate-pause (out-of-band) on the given sides, qtest style. */
  pause: (sides: Side[], at: Trigger = midPostcopy(), whilePaused?: FaultSpec['whilePaused']): FaultSpec => ({
    name: `migrate-pause (OOB) on the ${sides.join(' and ')}`,
    at,
    fire: (run) => pauseSides(sides.map((s) => run.vm(s))),
    whilePaused,
  }),
  /** SIGKILL to one side's QEMU. */
  kill: (side: Side, at: Trigger): FaultSpec => ({ name: `SIGKILL ${side}`, at, fire: (run) => run.vm(side).kill() }),
  /** migrate_cancel on the source (after a hang is seen, say). */
  cancel: (at: Trigger): FaultSpec => ({ name: 'migrate_cancel', at, fire: (run) => run.src.qmp.execute('migrate_cancel') }),
  /** The migration link silently partitioned (one host: network namespaces; two hosts: nftables on the source's host); healed before a recovery or a retry. */
  partition: (at: Trigger = midPrecopy()): FaultSpec => partition(at),
  /** A stalled recovery channel, then the link killed: a failure during the recovery handshake (follows a fault that postcopy recovers). */
  stallRecovery,
  /** Anything else, named. */
  custom: (name: string, at: Trigger, fire: FaultSpec['fire'], more: Partial<FaultSpec> = {}): FaultSpec => ({ name, at, fire, ...more }),
};

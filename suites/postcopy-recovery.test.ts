import { describe, expect } from 'vitest';
import { caseScenario, DEADLINES, fault, testArches, when, type MigratingRun, type MigrationCase } from '../harness/index.js';

const SUITE = 'postcopy-recovery';
const at = (fraction: number) => when.progress('postcopy-active', fraction);

// Postcopy broken and recovered out-of-band, every way a case can say: the route of the new
// channel (a new bridge, the old bridge's port, straight), the pause (the broken link, or
// migrate-pause once a silent hang is seen), the port, a failed first resume, a failure
// during the handshake, two failures. Each episode is timed with the stall the guest felt.
describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE };
  const recovery = (id: string, more: Partial<MigrationCase> = {}): MigrationCase => ({ id, arch, ...more, migration: { mode: 'recovery', ...more.migration } });
  // While paused the guest blocks on the first page it lacks: its heartbeat goes silent.
  const silent = (run: MigratingRun) => run.dst.heartbeat!.waitForSilence(1000);

  caseScenario(recovery('bridge killed in postcopy: both pause, OOB recover over a second bridge; stall measured', { faults: [fault.killBridge(at(0.2), silent)] }), meta, ({ run, episodes, migration }) => {
    expect(episodes[0]!.uri).not.toBe(migration!.uri);
    expect(run.bridges!.bridges).toHaveLength(2);
    expect(episodes[0]!.figures.heartbeatGapMs).toBeGreaterThanOrEqual(1000);
  });

  caseScenario(recovery('bridge restarted on the same port: the source resumes to its first URI', { migration: { recover: { route: 'same-port' } }, faults: [fault.killBridge(at(0.2))] }), meta, ({ episodes, migration }) => {
    expect(episodes[0]!.uri).toBe(migration!.uri);
  });

  caseScenario(recovery('migrate-pause on the source (qtest style), then recovery', { migration: { bridged: false }, faults: [fault.pause(['source'])] }), meta);

  // Nobody notices a silent partition: no error, no event, only no progress; then both sides
  // are paused out-of-band, the partition healed, and the recovery goes over the healed link.
  // One host: network namespaces joined by a veth; two hosts: nftables on the source's host.
  caseScenario(recovery('silent partition: migrate-pause on both sides once no byte moves, heal, recover', { migration: { bridged: false, recover: { pause: 'migrate-pause' } }, faults: [fault.partition(at(0.2))] }), meta, ({ run }) => {
    const paused = run.src.qmp.events.filter((e) => e.event === 'MIGRATION' && e.data?.status === 'postcopy-paused');
    expect(paused).toHaveLength(1);
  });

  // The destination's replies on the new channel dropped (all but its SYN-ACK): both sides
  // enter postcopy-recover and the handshake can never finish; the bridge killed then, and a
  // second recovery succeeds.
  caseScenario(recovery('failure during the recovery handshake, then a second recovery', { faults: [fault.killBridge(at(0.2)), fault.stallRecovery()] }), meta, ({ run, episodes }) => {
    expect(run.bridges!.bridges).toHaveLength(3);
    expect(episodes).toHaveLength(1);
    expect(episodes[0]!.figures.attempts).toBe(2);
  });

  caseScenario(recovery('second failure after resuming: recovered twice', { faults: [fault.killBridge(at(0.1)), fault.killBridge(at(0.4))] }), meta, ({ run, episodes }) => {
    const pausedEvents = run.src.qmp.events.filter((e) => e.event === 'MIGRATION' && e.data?.status === 'postcopy-paused');
    expect(pausedEvents).toHaveLength(2);
    expect(episodes).toHaveLength(2);
    return { extra: { firstFailureToPausedMs: episodes[0]!.figures.failureToPausedMs } };
  });

  // Preempt opens a second connection for urgent pages: both go through the bridge, both are
  // cut, and both come back (postcopy-preempt is usable from 8.0: older binaries skip).
  let channels = 0;
  caseScenario(recovery('postcopy-preempt: both channels cut, recovered', {
    migration: { mode: 'recovery', postcopy: { preempt: true } },
    faults: [fault.killBridge(at(0.2))],
    hooks: {
      inPostcopy: (run) => run.bridges!.current.waitForConnections(2),
      recovered: async (run) => {
        await run.bridges!.current.waitForConnections(2);
        channels = (await run.dst.group()).sockets.filter((s) => s.state === 'ESTABLISHED').length;
      },
    },
  }), meta, () => {
    expect(channels).toBeGreaterThanOrEqual(2);
    return { extra: { destinationConnections: channels } };
  });

  // The recovery API's own promises: a side already paused counts as paused (at once, the
  // same time); a resume to a closed port fails as soon as QEMU says so (10.0: an event; 7.2:
  // only its stderr), not at a deadline; the destination listens on a port the harness chose.
  let pausedTwice: [number, number] | undefined;
  const bothPausedAgain = async (run: MigratingRun) => {
    const first = await run.waitBothPaused();
    pausedTwice = [first, await run.waitBothPaused({ timeoutMs: DEADLINES.alreadyTrue })];
  };
  caseScenario(recovery('a failed resume is reported at once; recovery on a chosen port then succeeds', {
    oneHost: 'resumes to loopback ports of this machine',
    migration: { mode: 'recovery', bridged: false, recover: { port: 'free', failFirst: true } },
    faults: [fault.pause(['source'], at(0.2), bothPausedAgain)],
  }), meta, ({ episodes }) => {
    const e = episodes[0]!;
    expect(pausedTwice![1]).toBe(pausedTwice![0]);
    expect(e.failedResume).toMatch(/Failed to connect|Connection refused/);
    expect(e.dstUri).toBe(`tcp:127.0.0.1:${e.listenPort}`);
    expect(e.figures.attempts).toBe(2);
    return { extra: { failedResume: e.failedResume, recoveredOn: e.dstUri } };
  });
});

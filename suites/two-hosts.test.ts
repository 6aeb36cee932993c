import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import {
  behaviourOf, caseScenario, ControlLinkError, DEADLINES, fault, findBinary, handover, HostKeyError, hostsDown, hostsUp, loadHostsFile, pollUntil, QmpClient, repoRoot, scenario, setControlLink, SshHost, sshTarget, topologyUp, when,
  buildImage, findImage, userDiskFormat, type BootImage, type HostsFile, type MigrationCase,
} from '../harness/index.js';

// The host layer over ssh, on two hosts that `migtest hosts up` makes on this machine:
// network namespaces with their own sshd, host key, /root, /tmp and hostname. What runs
// there is reached only through ssh: processes by pid and group, files over sftp, unix
// sockets through sshd's streamlocal forwarding.
const meta = { suite: 'two-hosts' };
let file: HostsFile & { file: string };
let mine: BootImage | undefined;
let wasUp = false;
// Network namespaces and sshd on port 22 of their own addresses need root.
const root = process.getuid?.() === 0;
const scenarioAsRoot: typeof scenario = (name, m, fn) => scenario(name, m, async (ctx) => (root ? fn(ctx) : ctx.skip('two hosts on this machine need root (network namespaces, sshd): run as root')));

describe('two-hosts', () => {
  beforeAll(async () => {
    if (!root) return;
    wasUp = topologyUp();
    file = loadHostsFile(await hostsUp());
    // The user's disk image the case below runs on: the system image's disk, converted.
    const system = findImage('x86_64', 'system') ?? (await buildImage('x86_64', { name: 'system' }));
    const rootDisk = join(mkdtempSync(join(tmpdir(), 'migtest-user-image-')), 'my-guest.qcow2');
    await execa('qemu-img', ['convert', '-O', 'qcow2', system.rootDisk, rootDisk]);
    mine = { kernel: '', initrd: '', rootDisk, rootFormat: 'qcow2', boot: 'firmware', user: true };
  }, 600_000);
  afterAll(async () => {
    if (mine) rmSync(dirname(mine.rootDisk), { recursive: true, force: true });
    if (root && !wasUp) await hostsDown();
  }, 60_000);

  const connect = (role: 'src' | 'dst', over: Partial<ReturnType<typeof sshTarget>> = {}) => SshHost.connect({ ...sshTarget(file, role)!, ...over });

  scenarioAsRoot("host keys are verified: the pinned key and a hashed known_hosts entry connect, another host's key is refused", meta, async (ctx) => {
    const dst = await connect('dst');
    ctx.track({ stop: () => dst.close() });
    expect((await dst.exec(['hostname'])).stdout.trim()).toBe('dst');
    // A known_hosts line with a hashed name, as `ssh-keygen -H` writes it.
    const kh = ctx.scratchFile('known_hosts');
    writeFileSync(kh, `${file.hosts.dst.ssh!.address} ${file.hosts.dst.ssh!.hostKey}\n`);
    await execa('ssh-keygen', ['-H', '-f', kh]);
    expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
    const viaKnown = await connect('dst', { hostKey: undefined, knownHosts: kh });
    await viaKnown.close();
    // src's key pinned for dst: a man in the middle, as far as the client can tell.
    const wrong = await connect('dst', { hostKey: file.hosts.src.ssh!.hostKey }).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(HostKeyError);
    expect((wrong as Error).message).toMatch(/offered host key SHA256:\S+, not the one on record \(SHA256:\S+\): refused/);
    return { extra: { refused: (wrong as Error).message } };
  });

  scenarioAsRoot("a QEMU on the destination host: its own group, QMP through the forwarded socket, files that are that host's own, killed by its group", meta, async (ctx) => {
    const dst = await connect('dst');
    ctx.track({ stop: () => dst.close() });
    const dir = await dst.privateDir('qemu');
    // The host's /tmp is its own: this machine does not see the directory.
    expect(existsSync(dir.path)).toBe(false);
    expect((await dst.exec(['stat', '-c', '%a', dir.path])).stdout.trim()).toBe('700');
    const bin = await findBinary('x86_64', 'system');
    const qmpPath = join(dir.path, 'qmp.sock');
    const proc = await dst.spawn([bin.path, '-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${qmpPath},server=on,wait=off`], {
      name: 'dst-qemu',
      stderrFile: join(dir.path, 'stderr.log'),
    });
    ctx.track({ stop: async () => void (await proc.stop({ termMs: DEADLINES.teardownQuick }), await dir.cleanup()) });
    const qmp = await QmpClient.connect({ path: qmpPath, open: () => dst.connectUnix(qmpPath) }, { vm: 'dst', transcriptFile: ctx.artifacts.file('dst.qmp.log') });
    expect((await qmp.execute<{ status: string }>('query-status')).status).toBe('prelaunch');
    // The leader is its own group, on that host.
    const st = await dst.procStat(proc.pid);
    expect(st).toMatchObject({ pgrp: proc.pid, startTime: proc.startTime });
    await proc.stop({ termMs: DEADLINES.teardownQuick });
    expect(await dst.procStat(proc.pid)).toBeUndefined();
    return { extra: { qemu: qmp.version, pid: proc.pid } };
  });

  scenarioAsRoot('closing the connection does not kill a remote process: a new connection finds it by pid and start time, and kills its group', meta, async (ctx) => {
    const src = await connect('src');
    const p = await src.spawn(['sleep', '600'], { name: 'sleeper' });
    await src.close();
    const again = await connect('src');
    ctx.track({ stop: async () => void (await again.killGroup(p.pid, p.startTime), await again.close()) });
    expect(await again.procStat(p.pid)).toMatchObject({ startTime: p.startTime });
    // A reused pid would have another start time: never killed.
    expect(await again.killGroup(p.pid, p.startTime + 1)).toBe(false);
    expect(await again.killGroup(p.pid, p.startTime)).toBe(true);
    await pollUntil('the killed group to be gone', DEADLINES.killed, async () => ({ done: !(await again.procStat(p.pid)) }));
  });

  scenarioAsRoot('a silent partition of the control link is noticed by the keepalive; after it heals, a reconnect finds the remote process running', meta, async (ctx) => {
    // relinkMs 0: operations fail at once while the link is down instead of waiting for it.
    const dst = await connect('dst', { relinkMs: 0 });
    ctx.track({ stop: () => dst.close() });
    const p = await dst.spawn(['sleep', '600'], { name: 'sleeper' });
    ctx.track({ stop: () => setControlLink('dst', true) });
    const cut = Date.now();
    await setControlLink('dst', false);
    // keepalive 1 s x 3 in the hosts file: noticed within a few seconds, not at a TCP timeout.
    await pollUntil('the keepalive to declare the control link lost', DEADLINES.linkLoss, () => ({ done: !!dst.linkLost, state: 'link still believed up' }));
    const noticedMs = Date.now() - cut;
    expect(await dst.exec(['true']).catch((e: Error) => e)).toBeInstanceOf(ControlLinkError);
    await setControlLink('dst', true);
    await dst.reconnect();
    expect(await dst.procStat(p.pid)).toMatchObject({ startTime: p.startTime });
    expect(await dst.killGroup(p.pid, p.startTime)).toBe(true);
    return { extra: { controlLinkLossNoticedMs: noticedMs } };
  });

  // The declarative case, across the two hosts (`hosts` names the hosts file): the source on
  // src, the destination on dst, the migration over the link between them.
  const SLOW = { 'max-bandwidth': 32 << 20 };
  // The hosts file exists once beforeAll brought the hosts up: read when the case runs.
  const across = (c: Omit<MigrationCase, 'hosts' | 'arch'>): MigrationCase => Object.defineProperty({ ...c, arch: 'x86_64' as const }, 'hosts', { get: () => file.file, enumerable: true });
  const twoHostMeta = { suite: 'two-hosts' };
  const caseAsRoot: typeof caseScenario = (c, m, then) => (root ? caseScenario(c, m, then) : scenarioAsRoot(c.id, { ...m, arch: c.arch }, async () => undefined));

  caseAsRoot(across({ id: 'precopy from host src to host dst over tcp: liveness and RAM checked' }), twoHostMeta, ({ run, migration, liveness, ram }) => {
    expect(run.src.host?.name).toBe('src');
    expect(run.dst.host?.name).toBe('dst');
    expect(migration!.uri.startsWith(`tcp:${file.hosts.dst.migrationAddress}:`)).toBe(true);
    expect(handover(liveness!)).toBe('continued');
    expect(ram!.pages).toBeGreaterThan(0);
  });

  caseAsRoot(
    across({ id: 'precopy from host src to host dst over exec (socat over tcp)', workload: false, migration: { transport: 'exec' } }),
    twoHostMeta,
    ({ migration, liveness }) => {
      expect(migration!.uri).toMatch(new RegExp(`^exec:socat - TCP4:${file.hosts.dst.migrationAddress.replaceAll('.', '\\.')}:\\d+$`));
      expect(handover(liveness!)).toBe('continued');
    },
  );

  // Storage across the hosts: each host its own image, the destination's served over NBD on
  // its migration address; and one image on the hosts' shared storage, opened by both QEMUs.
  caseAsRoot(
    across({ id: 'storage mirror across two hosts: NBD on the migration link, fio verified on dst', workload: false, storage: { kind: 'mirror', sync: 'full' } }),
    twoHostMeta,
    ({ io, run }) => {
      expect(run.storage!.src.host.name).toBe('src');
      expect(run.storage!.dst.host.name).toBe('dst');
      // The whole disk, or (10.1+, qemu/behaviour.ts) what is not zero.
      expect(io!.mirror!.ready.len).toBeGreaterThanOrEqual(behaviourOf(run.versions.src).mirrorFullCopies === 'whole-disk' ? 64 << 20 : 1);
      expect(io!.writes).toBe(2048);
      expect(io!.srcWrites).toBeGreaterThan(0);
      expect(io!.dstWrites).toBeGreaterThan(0);
    },
  );

  // A disk image of the user's own (--image FILE, made as a user makes one: qemu-img convert,
  // outside migtest's cache) across the hosts: no storage is shared, so each host gets a copy of
  // the file and an overlay of its own, and the source's disk is mirrored into the destination's
  // (sync top: only what the guest wrote). The guest writes a mark to its disk (its root is
  // mounted read-only, so in the unpartitioned last MiB); the destination must read it back.
  const markAt = async (img: BootImage) => (await userDiskFormat(img.rootDisk)).virtualSize / 4096 - 256;
  caseAsRoot(
    across({
      id: "a disk image of the user's own across two hosts: copied to each, an overlay on each, the guest's writes mirrored over NBD",
      source: { configure: (b) => b.withImage(mine!) },
      hooks: {
        start: async (run) => {
          const page = await markAt(mine!);
          await (await run.src.agent()).sh(`dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\\000' m | dd of=/dev/vda bs=4096 seek=${page} conv=fsync 2>/dev/null`);
        },
      },
    }),
    twoHostMeta,
    async ({ run }) => {
      expect(run.src.spec.disks[0]!.file).toMatch(/src-root-overlay\.qcow2$/);
      expect(run.dst.spec.disks[0]!.file).toMatch(/dst-root-overlay\.qcow2$/);
      const page = await markAt(mine!);
      const read = await (await run.dst.agent()).sh(`sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=4096 skip=${page} count=1 2>/dev/null | od -An -c -v | tr -s ' \\n' '\\n\\n' | sort -u`);
      expect(read.stdout.trim().split('\n')).toEqual(['m']);
      const mirror = JSON.parse(readFileSync(join(run.scope.artifacts.path, 'root-mirror.json'), 'utf8')) as { completed: { len: number } };
      expect(mirror.completed.len).toBeGreaterThan(0);
    },
  );

  caseAsRoot(
    across({ id: 'shared storage across two hosts: one qcow2, fio verified on dst', workload: false, storage: { kind: 'shared' } }),
    twoHostMeta,
    ({ io, run }) => {
      expect(run.storage!.src.disk.file.startsWith(file.hosts.src.dirs!.shared!)).toBe(true);
      expect(io!.writes).toBe(2048);
      expect(io!.srcWrites + io!.dstWrites).toBe(2048);
    },
  );

  // Postcopy through a socat bridge on host src (the source reaches it on its loopback), killed
  // mid-postcopy: both sides pause; the destination listens again on its migration address,
  // found from its sockets through ssh (its monitor may be blocked), and a new bridge carries on.
  caseAsRoot(
    across({
      id: 'postcopy across two hosts: bridge on host src killed mid-postcopy, recovered',
      migration: { mode: 'recovery' },
      faults: [fault.killBridge(when.progress('postcopy-active', 0.2), (run) => run.dst.heartbeat!.waitForSilence(1000))],
    }),
    twoHostMeta,
    ({ run, episodes }) => {
      expect(run.bridges!.bridges.map((b) => b.host.name)).toEqual(['src', 'src']);
      expect(episodes[0]!.uri.startsWith('tcp:127.0.0.1:')).toBe(true);
      expect(run.bridges!.bridges[1]!.target.host).toBe(file.hosts.dst.migrationAddress);
      expect(episodes[0]!.figures.heartbeatGapMs).toBeGreaterThanOrEqual(1000);
    },
  );

  // The control link (ssh) to host dst cut while the migration runs over its own link: the
  // harness notices (keepalive), the migration carries on, and once the link is back the
  // harness reconnects (ssh, then QMP, heartbeat and console) and verifies the guest there.
  let cutAt = 0;
  caseAsRoot(
    across({
      id: 'control link to host dst cut mid-precopy: migration carries on, harness reconnects, guest verified',
      migration: { parameters: { 'max-bandwidth': 16 << 20 } },
      faults: [
        fault.custom('control link to host dst cut until the keepalive notices, then healed', when.progress('active', 0.1), async (run) => {
          const host = run.dst.host as SshHost;
          cutAt = Date.now();
          await setControlLink('dst', false);
          try {
            await pollUntil('the keepalive to declare the control link to dst lost', DEADLINES.linkLoss, () => ({ done: !!host.linkLost, state: 'link still believed up' }));
          } finally {
            await setControlLink('dst', true);
          }
          // Still migrating: the destination's monitor is reopened now, mid-migration.
          expect((await run.dst.status()).status).toBe('inmigrate');
          // The throttle only kept the migration going through the outage: lifted, it converges.
          await run.src.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 8 * 2 ** 30 });
        }),
      ],
    }),
    twoHostMeta,
    ({ run, liveness, ram }) => {
      const host = run.dst.host as SshHost;
      expect(host.outages).toHaveLength(1);
      const o = host.outages[0]!;
      expect(o.backAt).toBeDefined();
      // QMP was reopened once; the guest answered there, live and with its RAM intact.
      expect(run.dst.qmp.gaps).toHaveLength(1);
      expect(handover(liveness!)).toBe('continued');
      expect(ram!.pages).toBeGreaterThan(0);
      return { extra: { controlLinkLossNoticedMs: o.lostAt - cutAt, controlLinkBackMs: o.backAt! - o.lostAt } };
    },
  );

  // The partition fault across hosts: nftables on host src drops the migration port's packets; healed before the retry.
  caseAsRoot(
    across({
      id: 'the migration connection partitioned on host src mid-precopy: cancelled, source intact, healed retry succeeds',
      migration: { parameters: SLOW },
      faults: [fault.partition(when.progress('active', 0.2)), fault.cancel(when.stalled('active', 2000))],
      expect: { kind: 'fails', status: 'cancelled' },
    }),
    twoHostMeta,
    ({ retry }) => void expect(retry).toBeDefined(),
  );

  caseAsRoot(
    across({
      id: "host dst's QEMU killed mid-precopy: failed, source intact, retry succeeds",
      migration: { parameters: SLOW },
      faults: [fault.kill('destination', when.progress('active', 0.2))],
      expect: { kind: 'fails', status: 'failed' },
    }),
    twoHostMeta,
    ({ retry, run }) => void (expect(retry).toBeDefined(), expect(run.dst.process.exit?.signal).toBe('SIGKILL')),
  );

  scenarioAsRoot('the reaper cleans remote hosts: a runner SIGKILLed after starting a group on dst leaves nothing there after the next reap', meta, async (ctx) => {
    const child = execa(process.execPath, ['--import', 'tsx', join(repoRoot, 'suites/helpers/remote-orphan.ts'), file.file], { cwd: repoRoot, reject: false });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const spawned = await pollUntil('the runner to start its remote group', DEADLINES.helper, () => {
      const m = /SPAWNED (\{.*\})/.exec(out);
      return { done: !!m || child.exitCode !== null, value: m ? (JSON.parse(m[1]!) as { pid: number; startTime: number }) : undefined, state: out || '(no output)' };
    });
    child.kill('SIGKILL');
    await child;
    const dst = await connect('dst');
    ctx.track({ stop: () => dst.close() });
    expect(await dst.procStat(spawned!.pid)).toMatchObject({ startTime: spawned!.startTime });
    const reap = await execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), 'reap'], { cwd: repoRoot, reject: false });
    expect(reap.stdout).toMatch(new RegExp(`killed remote-orphan on host dst \\(pgid ${spawned!.pid}`));
    expect(await dst.procStat(spawned!.pid)).toBeUndefined();
    return { extra: { reaper: reap.stdout.trim() } };
  });
});

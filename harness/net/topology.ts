import { DEADLINES } from '../util/deadlines.js';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { runChecked } from '../host/command.js';
import { isAlive, procStat } from '../host/procfs.js';
import { listEntries, unregister } from '../host/registry.js';
import { MigtestError } from '../util/errors.js';
import { progress } from '../util/log.js';
import { pollUntil } from '../util/time.js';
import type { HostsFile, Role } from '../host/hosts-file.js';

/**
 * Two hosts on one machine, faithful where it matters: each is a network namespace with its
 * own sshd (real OpenSSH, its own host key) in its own mount and UTS namespace (its own
 * /root and /tmp, so files and filesystem sockets are not shared; its own hostname). One
 * directory is shared storage, as NFS would be: both see it at the same path. The migration link is a veth between the two; the control link (ssh) is a veth from this
 * machine to each, so either can be cut alone. Persistent until `hosts down`.
 */
export const TOPOLOGY_DIR = '/var/lib/migtest/topology';
const ROLES: Role[] = ['src', 'dst'];
const NS = (r: Role) => `migtest_host_${r}`;
const CTL = (r: Role) => ({ outside: `mtctl-${r}`, inside: 'ctl0', root: `10.231.${r === 'src' ? 1 : 2}.1`, host: `10.231.${r === 'src' ? 1 : 2}.2` });
const MIG = (r: Role) => ({ ifname: 'mig0', addr: `10.231.0.${r === 'src' ? 1 : 2}` });

export class TopologyError extends MigtestError {}
const run = (file: string, args: string[]) => runChecked(file, args, { error: TopologyError });

interface State {
  hosts: Record<Role, { ns: string; sshd: { pid: number; startTime: number }; control: string; migration: string }>;
  hostsFile: string;
}

const stateFile = () => join(TOPOLOGY_DIR, 'topology.json');
export const topologyHostsFile = () => join(TOPOLOGY_DIR, 'hosts.yaml');
/** The hosts' shared storage: outside their private /root and /tmp, so both see it. */
export const TOPOLOGY_SHARED = join(TOPOLOGY_DIR, 'shared');

/** Whether a topology is up (its sshds alive). */
export function topologyUp(): boolean {
  if (!existsSync(stateFile())) return false;
  const s = JSON.parse(readFileSync(stateFile(), 'utf8')) as State;
  return ROLES.every((r) => isAlive(s.hosts[r].sshd.pid, s.hosts[r].sshd.startTime));
}

/** Brings the two hosts up (or finds them up) and returns the hosts file that reaches them. */
export async function hostsUp(): Promise<string> {
  if (topologyUp()) return topologyHostsFile();
  await hostsDown();
  if (process.getuid?.() !== 0) throw new TopologyError('migtest hosts up needs root (network namespaces, sshd)');
  for (const tool of ['sshd', 'ssh-keygen', 'unshare', 'ip'])
    if ((await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false })).exitCode !== 0)
      throw new TopologyError(`migtest hosts up needs ${tool} (apt-get install openssh-server openssh-client util-linux iproute2)`);
  mkdirSync(TOPOLOGY_DIR, { recursive: true, mode: 0o700 });
  const clientKey = join(TOPOLOGY_DIR, 'id_ed25519');
  if (!existsSync(clientKey)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'migtest-topology', '-f', clientKey]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
  mkdirSync(TOPOLOGY_SHARED, { recursive: true, mode: 0o700 });
  const state: State = { hosts: {} as State['hosts'], hostsFile: topologyHostsFile() };
  const file: HostsFile = { hosts: {} as HostsFile['hosts'] };
  try {
    for (const r of ROLES) await run('ip', ['netns', 'add', NS(r)]);
    // The migration link, between the two hosts.
    await run('ip', ['-n', NS('src'), 'link', 'add', MIG('src').ifname, 'type', 'veth', 'peer', 'name', MIG('dst').ifname, 'netns', NS('dst')]);
    for (const r of ROLES) {
      const ns = NS(r);
      const ctl = CTL(r);
      await run('ip', ['-n', ns, 'addr', 'add', `${MIG(r).addr}/30`, 'dev', MIG(r).ifname]);
      await run('ip', ['-n', ns, 'link', 'set', MIG(r).ifname, 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // The control link, from this machine.
      await run('ip', ['link', 'add', ctl.outside, 'type', 'veth', 'peer', 'name', ctl.inside, 'netns', ns]);
      await run('ip', ['addr', 'add', `${ctl.root}/30`, 'dev', ctl.outside]);
      await run('ip', ['link', 'set', ctl.outside, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${ctl.host}/30`, 'dev', ctl.inside]);
      await run('ip', ['-n', ns, 'link', 'set', ctl.inside, 'up']);
      const sshd = await startSshd(r, clientKey);
      state.hosts[r] = { ns, sshd: sshd.proc, control: ctl.host, migration: MIG(r).addr };
      file.hosts[r] = {
        ssh: { address: ctl.host, user: 'root', identity: clientKey, hostKey: sshd.hostKey, keepaliveMs: 1000, keepaliveCountMax: 3 },
        migrationAddress: MIG(r).addr,
        dirs: { images: `/root/.cache/migtest/images`, artifacts: '/tmp/migtest-artifacts', shared: TOPOLOGY_SHARED },
        sharedStorage: true,
      };
    }
  } catch (e) {
    writeFileSync(stateFile(), JSON.stringify(state));
    await hostsDown();
    throw e;
  }
  writeFileSync(stateFile(), JSON.stringify(state));
  writeFileSync(topologyHostsFile(), `# Written by migtest hosts up: two hosts in network namespaces on this machine.\n${toYaml(file)}`, { mode: 0o600 });
  progress(`hosts up: src ${state.hosts.src.control} and dst ${state.hosts.dst.control} over ssh, migration link ${MIG('src').addr} <-> ${MIG('dst').addr}; hosts file ${topologyHostsFile()}`);
  return topologyHostsFile();
}

/** One host's sshd in its namespaces; waits until it accepts connections. */
async function startSshd(r: Role, clientKey: string): Promise<{ proc: { pid: number; startTime: number }; hostKey: string }> {
  const root = join(TOPOLOGY_DIR, r);
  for (const d of ['home/.ssh', 'tmp']) mkdirSync(join(root, d), { recursive: true, mode: 0o700 });
  const key = join(root, 'ssh_host_ed25519_key');
  if (!existsSync(key)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `migtest-${r}`, '-f', key]);
  writeFileSync(join(root, 'home/.ssh/authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const ctl = CTL(r);
  const config = [
    `ListenAddress ${ctl.host}`,
    'Port 22',
    `HostKey ${key}`,
    'PidFile none',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AuthorizedKeysFile /root/.ssh/authorized_keys',
    'StrictModes no',
    'MaxSessions 10',
    'MaxStartups 32:30:64',
    'AllowStreamLocalForwarding yes',
    // A session whose client is gone is dropped within seconds, so the monitor it held (QEMU
    // serves one QMP client at a time) is free for the reconnect after a control-link outage.
    'ClientAliveInterval 1',
    'ClientAliveCountMax 3',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
  writeFileSync(join(root, 'sshd_config'), config);
  // sshd starts after its own /root and /tmp are mounted: nothing under them is this machine's.
  const inner = `hostname "$1" && mount --bind "$2/home" /root && mount --bind "$2/tmp" /tmp && exec /usr/sbin/sshd -D -E "$2/sshd.log" -f "$2/sshd_config"`;
  const child = execa('ip', ['netns', 'exec', NS(r), 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', inner, 'sh', r, root], {
    detached: true, // its own session: it outlives this command, stopped by `hosts down`
    cleanup: false,
    stdio: 'ignore',
    reject: false,
  });
  child.unref();
  const pid = child.pid!;
  await pollUntil(`host ${r}: sshd listening on ${ctl.host}:22`, DEADLINES.sshd, async () => ({
    done: (await canConnect(ctl.host, 22)) || !isAlive(pid),
    state: isAlive(pid) ? 'not listening yet' : `sshd exited: ${existsSync(join(root, 'sshd.log')) ? readFileSync(join(root, 'sshd.log'), 'utf8').trim().split('\n').at(-1) : ''}`,
  }));
  if (!isAlive(pid)) throw new TopologyError(`host ${r}: sshd exited: ${readFileSync(join(root, 'sshd.log'), 'utf8').trim().split('\n').at(-1)}`);
  return { proc: { pid, startTime: procStat(pid)?.startTime ?? 0 }, hostKey: readFileSync(`${key}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ') };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * Stops each host's sshd by its recorded pid (start time checked), then whatever still runs
 * in its namespace (by pid, `ip netns pids`), and removes the namespaces and links.
 */
export async function hostsDown(): Promise<string[]> {
  const done: string[] = [];
  const state = existsSync(stateFile()) ? (JSON.parse(readFileSync(stateFile(), 'utf8')) as State) : undefined;
  for (const r of ROLES) {
    const sshd = state?.hosts[r]?.sshd;
    if (sshd && isAlive(sshd.pid, sshd.startTime)) {
      process.kill(sshd.pid, 'SIGTERM');
      done.push(`stopped host ${r}'s sshd (pid ${sshd.pid})`);
    }
    const pids = await execa('ip', ['netns', 'pids', NS(r)], { reject: false });
    for (const pid of pids.stdout.split('\n').filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
        done.push(`killed pid ${pid} left in host ${r}`);
      } catch {
        /* gone */
      }
    }
    if ((await execa('ip', ['link', 'del', CTL(r).outside], { reject: false })).exitCode === 0) done.push(`removed link ${CTL(r).outside}`);
    if ((await execa('ip', ['netns', 'del', NS(r)], { reject: false })).exitCode === 0) done.push(`removed namespace ${NS(r)}`);
  }
  rmSync(stateFile(), { force: true });
  // Groups recorded on these hosts died with them: a later reap need not look for them.
  for (const e of listEntries().filter((x) => x.host?.hostsFile === topologyHostsFile())) unregister(e.pgid, e.host!.name);
  return done;
}

/** Cuts or restores one host's control (ssh) link, from this machine's side. */
export async function setControlLink(r: Role, up: boolean): Promise<void> {
  await run('ip', ['link', 'set', CTL(r).outside, up ? 'up' : 'down']);
}

/** Cuts or restores the migration link between the hosts. */
export async function setMigrationLink(up: boolean): Promise<void> {
  await run('ip', ['-n', NS('src'), 'link', 'set', MIG('src').ifname, up ? 'up' : 'down']);
}

import { loadHostsFile, sshTarget, type HostsFile, type Role } from './hosts-file.js';
import { SshHost } from './ssh.js';

/** Both sides of a run: an ssh host, or undefined for this machine. */
export interface RunHosts {
  file: HostsFile & { file: string };
  src?: SshHost;
  dst?: SshHost;
  close(): Promise<void>;
}

/** Reaches each ssh host of a hosts file (keys verified) and says what it found, before any VM starts. */
export async function checkHosts(file: HostsFile & { file: string }): Promise<string[]> {
  const lines: string[] = [];
  for (const role of ['src', 'dst'] as Role[]) {
    const target = sshTarget(file, role);
    if (!target) {
      lines.push(`host ${role}: this machine, migration address ${file.hosts[role].migrationAddress}`);
      continue;
    }
    const h = await SshHost.connect(target);
    try {
      const r = await h.exec(['uname', '-nrm']);
      lines.push(`host ${role}: ${target.user ?? 'root'}@${target.address} (${r.stdout.trim()}), key verified, migration address ${file.hosts[role].migrationAddress}`);
    } finally {
      await h.close();
    }
  }
  return lines;
}

/** Connects the run's hosts (MIGTEST_HOSTS); the caller closes them. */
export async function connectRunHosts(path: string): Promise<RunHosts> {
  const file = loadHostsFile(path);
  const one = async (role: Role) => {
    const t = sshTarget(file, role);
    return t ? SshHost.connect(t) : undefined;
  };
  const [src, dst] = [await one('src'), await one('dst')];
  return { file, src, dst, close: async () => void (await src?.close(), await dst?.close()) };
}

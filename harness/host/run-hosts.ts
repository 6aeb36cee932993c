import { loadHostsFile, sshTarget, type HostsFile, type Role } from './hosts-file.js';
import { SshHost } from './ssh/host.js';

/** Both sides of a run: an ssh host, or undefined for this machine. */
export interface RunHosts {
  file: HostsFile & { file: string };
  src?: SshHost;
  dst?: SshHost;
  close(): Promise<void>;
}

/** Host tools the suites run there: bridges and exec (socat), images (qemu-img, qemu-io), partitions (nft). */
export const HOST_TOOLS = ['socat', 'qemu-img', 'qemu-io', 'nft', 'sha256sum'] as const;

/** Prints uname, whether /dev/kvm is usable, and which of the tools ($@) are missing. */
const PROBE_SCRIPT = 'uname -nrm; if [ -w /dev/kvm ]; then echo kvm=yes; else echo kvm=no; fi; for t in "$@"; do command -v "$t" >/dev/null 2>&1 || echo "missing=$t"; done';

/** What a host's probe said. Pure. */
export function parseProbe(out: string): { uname: string; kvm: boolean; missing: string[] } {
  const lines = out.trim().split('\n');
  return {
    uname: lines[0] ?? '',
    kvm: lines.includes('kvm=yes'),
    missing: lines.filter((l) => l.startsWith('missing=')).map((l) => l.slice('missing='.length)),
  };
}

/**
 * Reaches each ssh host of a hosts file (keys verified) and says what it found, before any VM
 * starts: its kernel, whether KVM is usable there, and which host tools it lacks (a missing
 * one fails only the scenarios that need it there, each naming it).
 */
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
      const p = parseProbe((await h.exec(['sh', '-c', PROBE_SCRIPT, 'sh', ...HOST_TOOLS])).stdout);
      lines.push(
        `host ${role}: ${target.user ?? 'root'}@${target.address} (${p.uname}), key verified, migration address ${file.hosts[role].migrationAddress}, ` +
          `KVM ${p.kvm ? 'usable' : 'not usable (TCG only)'}, ${p.missing.length ? `lacks ${p.missing.join(', ')}` : `has ${HOST_TOOLS.join(', ')}`}` +
          (file.hosts[role].sharedStorage ? `, shared storage at ${file.hosts[role].dirs!.shared}` : ''),
      );
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

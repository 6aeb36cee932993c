import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface TcpSocket {
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  /** Kernel state: LISTEN, ESTABLISHED, ... */
  state: string;
  inode: number;
}

const STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

/** "0100007F:1F90" (little-endian IPv4, hex port) -> ["127.0.0.1", 8080]. Pure. */
export function parseProcAddress(field: string): [string, number] {
  const [hex, port] = field.split(':') as [string, string];
  const host =
    hex.length === 8
      ? [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.')
      : `[${hex}]`; // IPv6: kept raw, only compared
  return [host, parseInt(port, 16)];
}

/** Parses /proc/<pid>/net/tcp text. Pure. */
export function parseProcNetTcp(text: string): TcpSocket[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 10)
    .map((f) => {
      const [localHost, localPort] = parseProcAddress(f[1]!);
      const [remoteHost, remotePort] = parseProcAddress(f[2]!);
      return { localHost, localPort, remoteHost, remotePort, state: STATES[f[3]!] ?? f[3]!, inode: Number(f[9]) };
    });
}

function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(Number(m[1]));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/**
 * TCP sockets a process holds, read from /proc in the process's own network namespace.
 * This is how the harness learns a port the kernel chose (port 0) for a process that
 * cannot be asked: socat, or a destination whose monitor is blocked in postcopy.
 */
export function tcpSocketsOf(pid: number): TcpSocket[] {
  const inodes = socketInodes(pid);
  const out: TcpSocket[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    out.push(...parseProcNetTcp(text).filter((s) => inodes.has(s.inode)));
  }
  return out;
}

export function listeningPorts(pid: number): number[] {
  return listeningOf(tcpSocketsOf(pid));
}

/** The ports among these sockets that listen. */
export const listeningOf = (sockets: TcpSocket[]): number[] => sockets.filter((s) => s.state === 'LISTEN').map((s) => s.localPort);

/**
 * Lists a process group's members and socket inodes, then the host's TCP tables: run on
 * another host with the group id as $1 (a fixed script, the id an argument). One read per
 * /proc entry, no fork per process.
 */
export const GROUP_SOCKETS_SCRIPT = `pg=$1
for d in /proc/[0-9]*; do
  read -r s < "$d/stat" 2>/dev/null || continue
  set -- \${s##*) }
  [ "$3" = "$pg" ] && [ "$1" != Z ] || continue
  echo "member \${d#/proc/}"
  for f in "$d"/fd/*; do
    l=$(readlink "$f" 2>/dev/null) || continue
    case $l in socket:*) l=\${l#socket:[}; echo "inode \${l%]}";; esac
  done
done
echo "table tcp"; cat /proc/net/tcp 2>/dev/null
echo "table tcp6"; cat /proc/net/tcp6 2>/dev/null
`;

/** What GROUP_SOCKETS_SCRIPT printed -> the members and their TCP sockets. Pure. */
export function parseGroupSockets(text: string): { members: number[]; sockets: TcpSocket[] } {
  const members: number[] = [];
  const inodes = new Set<number>();
  const tables: string[][] = [];
  for (const line of text.split('\n')) {
    const m = /^(member|inode) (\d+)$/.exec(line);
    if (m) (m[1] === 'member' ? members.push(Number(m[2])) : inodes.add(Number(m[2])));
    else if (line.startsWith('table ')) tables.push([]);
    else tables.at(-1)?.push(line);
  }
  const sockets = tables.flatMap((t) => parseProcNetTcp(t.join('\n'))).filter((s) => inodes.has(s.inode));
  return { members, sockets };
}

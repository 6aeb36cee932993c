import { execa } from 'execa';
import { isAlive, procStat } from '../host/procfs.js';
import { MigtestError } from '../util/errors.js';

/**
 * nftables rules the harness owns, in a table named after this runner (pid and start time),
 * so a later run can remove the tables of a runner that died. Never a shell string: the
 * ruleset goes to `nft -f -` on stdin, built only from numbers we chose.
 */
const PREFIX = 'migtest_';

function tableName(): string {
  return `${PREFIX}${process.pid}_${procStat(process.pid)?.startTime ?? 0}`;
}

async function nft(input: string): Promise<void> {
  const r = await execa('nft', ['-f', '-'], { input, reject: false });
  if (r.exitCode !== 0) throw new MigtestError(`nft failed: ${r.stderr.trim()}\nruleset:\n${input}`);
}

/**
 * Silently drops TCP packets on a loopback port. `to` (default): packets to it — a connect
 * hangs in SYN_SENT, a flow stalls. `from`: what the port's owner sends, except the SYN-ACK,
 * so connections still open but every reply is lost (a one-way failure).
 */
export class PortBlackhole {
  private stopped = false;

  private constructor(
    readonly port: number,
    private readonly table: string,
    private readonly chain: string,
  ) {}

  static async start(port: number, direction: 'to' | 'from' = 'to'): Promise<PortBlackhole> {
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new MigtestError(`bad port ${port}`);
    const table = tableName();
    const chain = `drop_${direction}_${port}`;
    const rule = direction === 'to' ? `ip daddr 127.0.0.1 tcp dport ${port} drop` : `ip saddr 127.0.0.1 tcp sport ${port} tcp flags & syn == 0 drop`;
    await nft(
      `table inet ${table} {\n  chain ${chain} {\n    type filter hook output priority 0; policy accept;\n    ${rule}\n  }\n}\n`,
    );
    return new PortBlackhole(port, table, chain);
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await nft(`delete chain inet ${this.table} ${this.chain}\n`).catch(() => undefined);
    const left = await execa('nft', ['list', 'table', 'inet', this.table], { reject: false });
    if (left.exitCode === 0 && !/chain /.test(left.stdout)) await nft(`delete table inet ${this.table}\n`).catch(() => undefined);
  }
}

/** Removes tables left by runners that are gone; returns their names. */
export async function reapNftTables(): Promise<string[]> {
  const r = await execa('nft', ['list', 'tables'], { reject: false });
  if (r.exitCode !== 0) return [];
  const removed: string[] = [];
  for (const m of r.stdout.matchAll(/table inet (migtest_(\d+)_(\d+))/g)) {
    if (isAlive(Number(m[2]), Number(m[3]))) continue;
    await nft(`delete table inet ${m[1]}\n`).catch(() => undefined);
    removed.push(m[1]!);
  }
  return removed;
}

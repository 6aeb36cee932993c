import { dirname, join } from 'node:path';
import { CheckFailedError } from '../util/errors.js';
import { deadline, type Wait } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import { QmpCommandError } from '../qmp/errors.js';
import { isMissingFile } from '../qmp/agent.js';
import type { StartedVm } from '../vm/started.js';

const PAGE = 4096;
const DIR = '/run/migtest';

export class RamIntegrityError extends CheckFailedError {}

export interface RamWorkloadOptions {
  /** Size of the pinned buffer the guest dirties. */
  mib: number;
  /** Dirty rate in MiB/s; 0 = as fast as the guest can. */
  rateMiBs: number;
}

/** A boundary between neighbouring pages whose bytes differ. */
export interface Boundary {
  page: number;
  prev: number;
  cur: number;
}

/**
 * The qtest rule on the pages' bytes: all equal but for at most one boundary where the
 * writer was, and there the earlier page is exactly one pass ahead. Pure.
 */
export function patternBoundaries(values: Uint8Array): { boundaries: Boundary[]; ok: boolean } {
  const boundaries: Boundary[] = [];
  for (let i = 1; i < values.length; i++)
    if (values[i] !== values[i - 1]) boundaries.push({ page: i, prev: values[i - 1]!, cur: values[i]! });
  const ok = boundaries.length === 0 || (boundaries.length === 1 && boundaries[0]!.prev === ((boundaries[0]!.cur + 1) & 255));
  return { boundaries, ok };
}

/** Physical ranges covering the frames, merged across small gaps to keep pmemsave calls few. */
export function frameRanges(pfns: number[], maxGap = 256): Array<{ start: number; end: number }> {
  const sorted = [...new Set(pfns)].sort((a, b) => a - b);
  const out: Array<{ start: number; end: number }> = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last && p - last.end <= maxGap) last.end = p + 1;
    else out.push({ start: p, end: p + 1 });
  }
  return out;
}

/**
 * The pass the pages were in: after pass k completes every page holds (1 + k) & 255 (they
 * start at 1), and during pass k + 1 the pages after the writer still do. Mod 256.
 */
export const passOfValue = (value: number): number => (value - 1) & 255;

/** Whether a dump's pass lies in [lo, hi] (passes counted by the guest, compared mod 256). */
export function withinPasses(value: number, lo: number, hi: number): boolean {
  return ((passOfValue(value) - lo) & 255) <= hi - lo;
}

export interface RamCheckReport {
  vm: string;
  pages: number;
  /** Byte value of the pages after the writer's position (pass count mod 256). */
  value: number;
  boundaries: Boundary[];
  passes: number;
}

async function readGuestFile(vm: StartedVm, path: string): Promise<string> {
  return (await (await vm.agent()).readFile(path)).toString('utf8');
}

/**
 * Polls until the guest file exists (and says what `until` wants), then returns its content. The workload writes its files
 * by rename, so a file that opens is whole. One agent request per try (no guest process).
 * Only "no such file" is polled on: any other refusal (a blocked guest-file-open) ends the wait.
 */
async function waitForGuestFile(vm: StartedVm, path: string, awaited: string, opts: Wait & { until?: (text: string) => boolean } = {}): Promise<string> {
  const ga = await vm.agent();
  return pollUntil(`${vm.name}: ${awaited}`, deadline(opts, 'guestExec'), async () => {
    try {
      const text = (await ga.readFile(path)).toString('utf8');
      return { done: opts.until?.(text) ?? true, value: text, state: `${path} says '${text.trim().slice(0, 80)}'` };
    } catch (e) {
      if (!(e instanceof QmpCommandError && isMissingFile(e))) throw e;
      return { done: false, state: e.message };
    }
  }, 50);
}

/**
 * Empties a guest file, best effort (opened for writing: made, empty, where its directory is
 * there). A refusal (no directory, a read-only one, an agent that blocks writes) leaves it be:
 * the workload then fails, or writes it, on its own.
 */
async function emptyGuestFile(vm: StartedVm, path: string): Promise<void> {
  const ga = await vm.agent();
  const handle = await ga.execute<number>('guest-file-open', { path, mode: 'w' }).catch((e: unknown) => {
    if (e instanceof QmpCommandError) return undefined;
    throw e;
  });
  if (handle !== undefined) await ga.execute('guest-file-close', { handle });
}

function parseMap(text: string): number[] {
  const line = text.split('\n').find((l) => l.startsWith('pfns '));
  if (!line) throw new Error(`bad ram map: ${text.slice(0, 100)}`);
  return line.slice(5).trim().split(' ').map((h) => parseInt(h, 16));
}

/** The guest side of the RAM check: started once on the source, checked on any side. */
export class RamWorkload {
  private constructor(
    readonly opts: RamWorkloadOptions,
    readonly pfns: number[],
    readonly pid: number,
  ) {}

  static async start(vm: StartedVm, opts: RamWorkloadOptions): Promise<RamWorkload> {
    const ga = await vm.agent();
    // A workload this guest ran before left its status: emptied, it cannot pass for this one's
    // (its pid file cannot either: the pid is compared below).
    await emptyGuestFile(vm, `${DIR}/ram.status`);
    const { pid } = await ga.execute<{ pid: number }>('guest-exec', {
      path: '/usr/bin/perl',
      arg: ['/usr/lib/migtest/ramtest.pl', String(opts.mib), String(opts.rateMiBs), DIR],
      'capture-output': false,
    });
    // Its pid file is written after its map and before its status: this one's pid there, its map is whole.
    await waitForGuestFile(vm, `${DIR}/ram.pid`, `RAM workload (pid ${pid}) to map its pages`, { until: (text) => text.trim() === String(pid) });
    const pfns = parseMap(await readGuestFile(vm, `${DIR}/ram.map`));
    if (pfns.length * PAGE < opts.mib * 1024 * 1024) throw new Error(`RAM workload mapped only ${pfns.length} pages`);
    return new RamWorkload(opts, pfns, pid);
  }

  async passes(vm: StartedVm): Promise<number> {
    return Number(/pass (\d+)/.exec(await readGuestFile(vm, `${DIR}/ram.status`))?.[1] ?? 0);
  }

  /** Waits until the guest has completed pass `n` (a control run needs the workload to have moved on). */
  async waitForPass(vm: StartedVm, n: number, opts: Wait = {}): Promise<number> {
    return pollUntil(`${vm.name}: RAM workload to complete pass ${n}`, deadline(opts, 'guestExec'), async () => {
      const p = await this.passes(vm);
      return { done: p >= n, value: p, state: `pass ${p}` };
    }, 200);
  }

  /** The guest re-reads its page map: if any frame moved, a dump-based check would be wrong. */
  async confirmFramesUnmoved(vm: StartedVm): Promise<void> {
    const ga = await vm.agent();
    await ga.sh(`rm -f ${DIR}/ram.map2 && kill -USR1 ${this.pid}`);
    const text = await waitForGuestFile(vm, `${DIR}/ram.map2`, "RAM workload's page map refresh");
    const now = parseMap(text);
    const moved = now.findIndex((p, i) => p !== this.pfns[i]);
    if (moved >= 0 || now.length !== this.pfns.length)
      throw new CheckFailedError(`${vm.name}: guest moved pinned page ${moved} (frame ${this.pfns[moved]} -> ${now[moved]}): the RAM check cannot be trusted`);
  }

  /**
   * Stops the VM, dumps the pages' frames with pmemsave, checks the pattern, and resumes the
   * VM if it was running. Throws RamIntegrityError naming the first bad pages.
   */
  async check(vm: StartedVm): Promise<RamCheckReport> {
    const passes = await this.passes(vm);
    await this.confirmFramesUnmoved(vm);
    return this.checkPages(vm, { passes });
  }

  /**
   * The pattern check from the pages alone, without the guest agent: for a VM that is not
   * running (a snapshot loaded with -S). `asOf` also requires the RAM to be from a pass in
   * [lo, hi]: RAM as it was at a known point (a snapshot's start), not at another.
   */
  async checkPages(vm: StartedVm, opts: { passes?: number; asOf?: [number, number] } = {}): Promise<RamCheckReport> {
    const passes = opts.passes ?? -1;
    const wasRunning = (await vm.status()).running;
    if (wasRunning) await vm.qmp.execute('stop');
    try {
      const values = await this.readPageBytes(vm);
      const { boundaries, ok } = patternBoundaries(values);
      const report: RamCheckReport = { vm: vm.name, pages: values.length, value: values.at(-1)!, boundaries: boundaries.slice(0, 20), passes };
      if (!ok)
        throw new RamIntegrityError(
          `${vm.name}: guest RAM is not consistent: ${boundaries.length} boundaries where at most one (n+1 -> n) is allowed; ` +
            `first: ${boundaries.slice(0, 5).map((b) => `page ${b.page} (frame 0x${this.pfns[b.page]!.toString(16)}) ${b.prev}->${b.cur}`).join(', ')}`,
          { report },
        );
      const asOf = opts.asOf;
      if (asOf && !withinPasses(report.value, asOf[0], asOf[1]))
        throw new RamIntegrityError(
          `${vm.name}: guest RAM is consistent but from pass ${passOfValue(report.value)} (mod 256), not from the passes ${asOf[0]}..${asOf[1]} it should be as of`,
          { report, asOf },
        );
      return report;
    } finally {
      if (wasRunning) await vm.qmp.execute('cont');
    }
  }

  /** Physical address of page i of the workload (for fault injection). */
  physAddr(page: number): number {
    return this.pfns[page]! * PAGE;
  }

  private async readPageBytes(vm: StartedVm): Promise<Uint8Array> {
    // QEMU writes the dump into the VM's private directory; read and removed at once.
    const scratchPrefix = join(dirname(vm.paths.qmp), 'ramdump');
    const byFrame = new Map<number, number>();
    let n = 0;
    for (const r of frameRanges(this.pfns)) {
      const file = `${scratchPrefix}.${n++}.bin`;
      await vm.qmp.execute('pmemsave', { val: r.start * PAGE, size: (r.end - r.start) * PAGE, filename: file });
      const data = await vm.takeFile(file);
      for (let p = r.start; p < r.end; p++) byFrame.set(p, data[(p - r.start) * PAGE]!);
    }
    return Uint8Array.from(this.pfns.map((p) => byFrame.get(p)!));
  }
}

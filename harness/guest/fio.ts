import { CheckFailedError } from '../util/errors.js';
import { deadline, type Wait } from '../util/deadlines.js';
import type { StartedVm } from '../vm/started.js';

/** A block the guest wrote and acknowledged that does not read back as written. */
export class DiskIntegrityError extends CheckFailedError {}

export interface FioOptions {
  /** Guest block device (/dev/vdb for the second virtio-blk disk, /dev/sda for a scsi-hd). */
  device: string;
  /** Bytes written, each block exactly once (fio's random map). */
  sizeMiB: number;
  blockSize?: string;
  iodepth?: number;
}

/** fio's JSON, the few fields we read. */
interface FioJson {
  jobs: Array<{ error: number; write: { io_bytes: number; total_ios: number }; read: { io_bytes: number; total_ios: number } }>;
}

export interface FioWriteReport {
  writtenBytes: number;
  writeIos: number;
}

export interface FioVerifyReport {
  verifiedBytes: number;
  verifiedIos: number;
}

/**
 * The job both passes share: random 4k writes with crc32c verification headers, libaio with
 * a deep queue, O_DIRECT (no page cache between fio and the virtio disk). randrepeat makes
 * the verify pass replay the same offsets.
 */
export function fioArgs(o: FioOptions, pass: 'write' | 'verify'): string[] {
  const args = [
    '--name=migtest',
    `--filename=${o.device}`,
    '--ioengine=libaio',
    '--direct=1',
    `--iodepth=${o.iodepth ?? 32}`,
    '--rw=randwrite',
    `--bs=${o.blockSize ?? '4k'}`,
    `--size=${o.sizeMiB}M`,
    '--randrepeat=1',
    '--verify=crc32c',
    '--verify_fatal=0',
    '--verify_state_save=0',
    '--output-format=json',
  ];
  // verify_only: read every block the write pass wrote and check its header and crc.
  args.push(...(pass === 'write' ? ['--do_verify=0'] : ['--verify_only']));
  return args;
}

/** fio prints "verify: bad magic header 0, wanted acca at file /dev/vdb offset 4194304, length 4096 ..." per bad block. */
export function verifyFailures(text: string): string[] {
  return text.split('\n').filter((l) => /verify:|bad magic|crc32c: verify failed|bad header/i.test(l)).map((l) => l.trim());
}

function parseJson(stdout: string): FioJson | undefined {
  // fio may print notes before the JSON document.
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(stdout.slice(start)) as FioJson;
  } catch {
    return undefined;
  }
}

/**
 * fio in the guest: a write pass started in the background (it outlives a migration: the
 * agent that tracks it is in the guest), then a verify pass on whichever side runs the guest.
 */
export class FioWorkload {
  private constructor(
    readonly opts: FioOptions,
    readonly pid: number,
  ) {}

  static async start(vm: StartedVm, opts: FioOptions): Promise<FioWorkload> {
    const pid = await (await vm.agent()).spawn('/usr/bin/fio', fioArgs(opts, 'write'));
    return new FioWorkload(opts, pid);
  }

  /** Waits for the write pass (on the VM that runs the guest now); fio's own errors fail it. */
  async waitWritten(vm: StartedVm, opts: Wait = {}): Promise<FioWriteReport> {
    const r = await (await vm.agent()).waitExec(this.pid, 'fio write pass', { ...opts, timeoutMs: deadline(opts, 'fio') });
    const json = parseJson(r.stdout);
    const job = json?.jobs[0];
    if (r.exitcode !== 0 || !job || job.error !== 0)
      throw new DiskIntegrityError(`${vm.name}: fio write pass failed (exit ${r.exitcode}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`, { stderr: r.stderr });
    return { writtenBytes: job.write.io_bytes, writeIos: job.write.total_ios };
  }

  /** Reads back every block of the write pass; DiskIntegrityError names the bad blocks. */
  async verify(vm: StartedVm, opts: Wait = {}): Promise<FioVerifyReport> {
    const r = await (await vm.agent()).exec('/usr/bin/fio', fioArgs(this.opts, 'verify'), { ...opts, timeoutMs: deadline(opts, 'fio') });
    const job = parseJson(r.stdout)?.jobs[0];
    const bad = verifyFailures(`${r.stderr}\n${r.stdout}`);
    if (r.exitcode !== 0 || !job || job.error !== 0 || bad.length)
      throw new DiskIntegrityError(
        `${vm.name}: ${this.opts.device} does not read back what the guest wrote: ${bad.length} bad block(s)` +
          `${bad.length ? `, first: ${bad.slice(0, 3).join(' | ')}` : `; fio exit ${r.exitcode}: ${r.stderr.trim().slice(0, 300)}`}`,
        { bad: bad.slice(0, 50), exitcode: r.exitcode },
      );
    const expected = this.opts.sizeMiB * 1024 * 1024;
    if (job.read.io_bytes < expected)
      throw new DiskIntegrityError(`${vm.name}: fio verified only ${job.read.io_bytes} of ${expected} bytes`, { job });
    return { verifiedBytes: job.read.io_bytes, verifiedIos: job.read.total_ios };
  }
}

import { probeBinary } from '../qemu/probe.js';
import type { Wait } from '../util/deadlines.js';
import { deadline } from '../util/deadlines.js';
import { diedDuring, JobFailedError, runJob } from './jobs.js';
import type { StartedVm } from './started.js';

/** Where an internal snapshot goes: its tag, the disk that holds the VM state, the disks snapshotted. */
export interface SnapshotTarget {
  tag: string;
  /** The node or device that holds the VM state (default: the first of `devices`). */
  vmstate?: string;
  devices: string[];
}

/** Whether this QEMU has the QMP job (snapshot-save, 6.0+); older ones have HMP savevm/loadvm/delvm only. */
async function hasJobs(vm: StartedVm): Promise<boolean> {
  return (await probeBinary(vm.binary)).commands.includes('snapshot-save');
}

/** HMP answers with text; a refusal is text too ("Error: ..."), thrown here in QEMU's words as a job's would be. */
async function hmp(vm: StartedVm, line: string, opts: Wait): Promise<number> {
  const t0 = Date.now();
  const out = (
    await vm.qmp.hmp(line, { timeoutMs: deadline(opts, 'status') }).catch(async (e: unknown) => {
      throw (await diedDuring(vm, `HMP ${line}`)) ?? e;
    })
  ).trim();
  if (/error|fail|not found|does not exist/i.test(out)) throw new JobFailedError(`${vm.name}: ${line} failed: ${out}`, { hmp: out });
  return Date.now() - t0;
}

/**
 * An internal snapshot of the whole VM (RAM, devices, disks) into its qcow2 disks, on every
 * QEMU version: the snapshot-save job where QMP has it (6.0+), else HMP `savevm`. Returns how
 * long it took (timed as migrating on the VM's clock); a refusal is a JobFailedError in QEMU's words.
 */
export async function snapshotSave(vm: StartedVm, t: SnapshotTarget, opts: Wait = {}): Promise<number> {
  if (!(await hasJobs(vm))) return vm.clock.time('migrating', () => hmp(vm, `savevm ${t.tag}`, opts));
  return vm.clock.time('migrating', () => runJob(vm, 'snapshot-save', { 'job-id': `save-${t.tag}`, tag: t.tag, vmstate: t.vmstate ?? t.devices[0]!, devices: t.devices }, opts));
}

/** Loads an internal snapshot (snapshot-load, or HMP `loadvm` before 6.0): the guest goes back to it. Timed as migrating. */
export async function snapshotLoad(vm: StartedVm, t: SnapshotTarget, opts: Wait = {}): Promise<number> {
  if (!(await hasJobs(vm))) return vm.clock.time('migrating', () => hmp(vm, `loadvm ${t.tag}`, opts));
  return vm.clock.time('migrating', () => runJob(vm, 'snapshot-load', { 'job-id': `load-${t.tag}`, tag: t.tag, vmstate: t.vmstate ?? t.devices[0]!, devices: t.devices }, opts));
}

/** Deletes an internal snapshot (snapshot-delete, or HMP `delvm` before 6.0). */
export async function snapshotDelete(vm: StartedVm, t: Pick<SnapshotTarget, 'tag' | 'devices'>, opts: Wait = {}): Promise<number> {
  if (!(await hasJobs(vm))) return hmp(vm, `delvm ${t.tag}`, opts);
  return runJob(vm, 'snapshot-delete', { 'job-id': `delete-${t.tag}`, tag: t.tag, devices: t.devices }, opts);
}

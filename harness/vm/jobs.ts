import { runQmpJob, JobFailedError } from '../qmp/jobs.js';
import type { Wait } from '../util/deadlines.js';
import { QemuExitedError } from './errors.js';
import type { StartedVm } from './started.js';

export { JobFailedError };

/**
 * Runs a QMP command that starts a job (snapshot-save, snapshot-load, blockdev-create, ...),
 * waits for it to conclude, dismisses it, and returns how long it took. A job that failed is
 * a JobFailedError with QEMU's words; a QEMU that died meanwhile is a QemuExitedError saying
 * how (its signal) and what it last wrote on stderr.
 */
export async function runJob(vm: StartedVm, command: string, args: Record<string, unknown> & { 'job-id': string }, opts: Wait = {}): Promise<number> {
  try {
    return await runQmpJob(vm.qmp, command, args, opts);
  } catch (e) {
    if (e instanceof JobFailedError) throw e;
    throw (await diedDuring(vm, `the ${command} job ${args['job-id']}`)) ?? e;
  }
}

/**
 * When a command's monitor closed because QEMU died: its exit status (waited for) and last
 * stderr lines, as a QemuExitedError; undefined while QEMU lives.
 */
export async function diedDuring(vm: StartedVm, what: string): Promise<QemuExitedError | undefined> {
  const exit = vm.qmp.closed ? await vm.process.waitExit().catch(() => undefined) : undefined;
  if (!exit) return undefined;
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return new QemuExitedError(`${vm.name}: QEMU exited (${how}) during ${what}; stderr: ${vm.stderrErrors().slice(-3).join(' | ') || '(empty)'}`, { exit, what });
}

import type { Wait } from '../util/deadlines.js';
import { MigtestError } from '../util/errors.js';
import type { QmpClient } from './client.js';

/** A QMP job that ended with an error: QEMU's words in `error`. */
export class JobFailedError extends MigtestError {}

interface JobInfo {
  id: string;
  type: string;
  status: string;
  error?: string;
}

/**
 * Runs a QMP command that starts a job (snapshot-save, snapshot-load, snapshot-delete, ...),
 * waits for it to conclude (JOB_STATUS_CHANGE), dismisses it, and throws JobFailedError with
 * QEMU's error when it failed. Returns how long it took.
 */
export async function runQmpJob(qmp: QmpClient, command: string, args: Record<string, unknown> & { 'job-id': string }, opts: Wait = {}): Promise<number> {
  const id = args['job-id'];
  const since = qmp.mark();
  const t0 = Date.now();
  await qmp.execute(command, args);
  const end = await qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === id && e.data?.status === 'concluded', { ...opts, since });
  const info = (await qmp.execute<JobInfo[]>('query-jobs')).find((j) => j.id === id);
  await qmp.execute('job-dismiss', { id });
  if (info?.error) throw new JobFailedError(`${qmp.vm}: ${command} job ${id} failed: ${info.error}`, { info });
  return end.receivedAt - t0;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupProcess } from '../host/process.js';
import { MigtestError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import { DEADLINES } from '../util/deadlines.js';
import type { StartedVm } from '../vm/started.js';

/**
 * Hands `fd` to QEMU by name over its second monitor (SCM_RIGHTS, which Node cannot send)
 * and runs `command` there: QMP's fd: URIs only take fds passed to the same monitor.
 */
export async function runWithPassedFd(vm: StartedVm, fd: number, command: string, args: Record<string, unknown>): Promise<void> {
  const out = vm.artifacts.file(`${vm.name}.fdpass.log`);
  const helper = GroupProcess.spawn(
    'python3',
    [join(repoRoot, 'harness/host/fdpass.py'), vm.paths.fdMonitor, 'migfd', command, JSON.stringify(args)],
    { name: `${vm.name}-fdpass`, stdoutFile: out, stderrFile: out, extraFds: [fd] },
  );
  const exit = await helper.waitExit({ timeoutMs: DEADLINES.helper }).catch(async (e: unknown) => {
    await helper.stop({ termMs: DEADLINES.teardownQuick });
    throw new MigtestError(`${vm.name}: fd-passing helper for ${command} did not finish (${(e as Error).message}); see ${out}`);
  });
  vm.qmp.transcript.record('->', `(via ${vm.paths.fdMonitor}) getfd migfd + ${command} ${JSON.stringify(args)}: ${readFileSync(out, 'utf8').trim()}`);
  if (exit.code !== 0) throw new MigtestError(`${vm.name}: ${command} with a passed fd failed: ${readFileSync(out, 'utf8').trim()}`);
}

import { QmpCommandError } from '../qmp/errors.js';
import type { StartedVm } from '../vm/started.js';

/** What the suites run in a guest, by absolute path (docs/guest-contract.md), and who needs it. */
export const CONTRACT_FILES: ReadonlyArray<{ path: string; for: string }> = [
  { path: '/bin/busybox', for: 'the RAM check, the network suites and small shell steps' },
  { path: '/usr/bin/perl', for: 'the RAM check and every RAM workload' },
  { path: '/usr/lib/migtest/ramtest.pl', for: 'the RAM check and every RAM workload' },
  { path: '/usr/bin/fio', for: 'disk-io, parked-requests, storage-mirror and cases with storage' },
  { path: '/bin/ping', for: 'net-liveness' },
  { path: '/bin/ip', for: 'net-liveness' },
];

export interface ContractReport {
  /** guest-exec answered (some distributions' agent configuration blocks it). */
  exec: boolean;
  missing: Array<{ path: string; for: string }>;
  /** The agent's refusal of guest-file-open, where it refused it: nothing could be looked for. */
  fileOpenRefused?: string;
}

/** Checks a ready guest against the contract through its agent: what is missing, and who needs it. */
export async function checkContract(vm: StartedVm): Promise<ContractReport> {
  const agent = await vm.agent();
  const missing: ContractReport['missing'] = [];
  for (const f of CONTRACT_FILES) {
    const there = await agent.exists(f.path).catch((e: unknown) => (e instanceof QmpCommandError ? e : Promise.reject(e)));
    if (there instanceof QmpCommandError) return { exec: false, missing: [], fileOpenRefused: `${there.errorClass}: ${there.desc}` };
    if (!there) missing.push(f);
  }
  const runnable = CONTRACT_FILES.find((f) => f.path.startsWith('/bin/') && !missing.includes(f));
  const exec = runnable ? await agent.exec(runnable.path, runnable.path.endsWith('busybox') ? ['true'] : ['-V']).then(() => true, () => false) : false;
  return { exec, missing };
}

/** The report as a user reads it: empty when the guest has everything. */
export function describeContract(r: ContractReport): string[] {
  const byPath = r.missing.map((m) => `${m.path} (for ${m.for})`);
  if (r.fileOpenRefused) return [`guest-file-open is refused (${r.fileOpenRefused}): the agent's configuration must allow guest-file-open, -read and -close (the harness reads the workloads' files with them)`];
  return [...(r.exec ? [] : ["guest-exec is refused or failed: the agent's configuration must allow it"]), ...(byPath.length ? [`missing: ${byPath.join('; ')}`] : [])];
}

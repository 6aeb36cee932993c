import { execa } from 'execa';
import { MigtestError } from '../util/errors.js';
import type { Host } from './host.js';

type ErrorClass = new (message: string) => Error;

/**
 * Runs a host tool (argv array, never a shell) and returns its stdout; a non-zero exit throws
 * `error` with the command line and what the tool said.
 */
export async function runChecked(file: string, args: string[], opts: { input?: string; error?: ErrorClass } = {}): Promise<string> {
  const r = await execa(file, args, { input: opts.input, reject: false });
  if (r.exitCode !== 0) throw new (opts.error ?? MigtestError)(`${file} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** runChecked on a host (this machine or an ssh one): the error names the host. */
export async function execChecked(host: Host, argv: readonly string[], error: ErrorClass = MigtestError): Promise<string> {
  const r = await host.exec(argv);
  if (r.code !== 0) throw new error(`host ${host.name}: ${argv.join(' ')} failed (${r.code === undefined ? 'no exit status' : `exit ${r.code}`}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

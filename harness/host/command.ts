import { execa } from 'execa';
import { MigtestError } from '../util/errors.js';

/**
 * Runs a host tool (argv array, never a shell) and returns its stdout; a non-zero exit throws
 * `error` with the command line and what the tool said.
 */
export async function runChecked(
  file: string,
  args: string[],
  opts: { input?: string; error?: new (message: string) => Error } = {},
): Promise<string> {
  const r = await execa(file, args, { input: opts.input, reject: false });
  if (r.exitCode !== 0) throw new (opts.error ?? MigtestError)(`${file} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

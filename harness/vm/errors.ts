import { MigtestError } from '../util/errors.js';

/** QEMU did not start or did not boot; `artifacts` is the directory with its argv, stderr and serial log. */
export class VmStartError extends MigtestError {
  readonly artifacts: string;
  constructor(message: string, context: { artifacts: string } & Record<string, unknown>) {
    super(message, context);
    this.artifacts = context.artifacts;
  }
}

/** QEMU went away while the harness waited on it: says how it ended and what it last said. */
export class QemuExitedError extends MigtestError {}

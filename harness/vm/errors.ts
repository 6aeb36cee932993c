import { MigtestError } from '../util/errors.js';

export class VmStartError extends MigtestError {}

/** QEMU went away while the harness waited on it: says how it ended and what it last said. */
export class QemuExitedError extends MigtestError {}

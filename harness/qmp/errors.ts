import { MigtestError } from '../util/errors.js';

/** QEMU answered a command with an error: keeps its class and desc, the command, and the VM. */
export class QmpCommandError extends MigtestError {
  constructor(
    readonly vm: string,
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
    args?: unknown,
  ) {
    super(`${vm}: ${command} failed: ${errorClass}: ${desc}`, { vm, command, errorClass, desc, args });
  }
}

/** The monitor connection closed or broke (QEMU exited, socket error). */
export class QmpDisconnectedError extends MigtestError {}

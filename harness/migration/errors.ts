import { MigtestError } from '../util/errors.js';

/** The migration ended in a state other than the one expected; carries QEMU's error-desc. */
export class MigrationFailedError extends MigtestError {}

import { MigtestError } from '../util/errors.js';

/** The migration ended in a state other than the one expected; carries QEMU's error-desc. */
export class MigrationFailedError extends MigtestError {}

/**
 * Postcopy could not finish because a side died: the guest's memory was split between the
 * two QEMUs and one half is gone. Says which side, how it ended and where the other stands.
 */
export class GuestLostError extends MigtestError {}

/** Postcopy stopped in postcopy-paused (the link failed) and nobody recovered it. */
export class MigrationPausedError extends MigtestError {}

/** The source completed and the destination then failed or exited: the guest runs nowhere. */
export class DestinationFailedError extends MigtestError {}

/** The migration did not end within its deadline; the context says how long no byte moved, and the last figures. */
export class MigrationHungError extends MigtestError {}

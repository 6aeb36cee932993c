import type { Expectation, MigrationCase, MigrationSpec, SideSetup } from '../case/model.js';
import type { Arch } from '../util/arch.js';

export type { SideSetup };

/**
 * How every compatibility pair migrates: return-path, so the source hears a refusal that
 * comes after its last byte (device state) and fails and resumes rather than believing it
 * completed; exit-on-error false where the destination has it (9.1+), so it stays up to say why.
 */
export const PAIR_MIGRATION: MigrationSpec = { capabilities: { 'return-path': true }, keepDestinationOnError: 'auto' };

/** A source and a destination set up differently, and what must happen when one migrates to the other. */
export function pairCase(id: string, arch: Arch, source: SideSetup, destination: SideSetup, expect: Expectation): MigrationCase {
  return { id, arch, source, destination, expect, migration: PAIR_MIGRATION };
}

/** A case migrated the compat way (PAIR_MIGRATION). */
export const asPair = (c: MigrationCase): MigrationCase => ({ ...c, migration: PAIR_MIGRATION });

export { refusedStream } from '../case/expectations.js';

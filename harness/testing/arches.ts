import type { Arch } from '../util/arch.js';
import { runConfig } from '../util/run-config.js';

/** The arches this run covers: MIGTEST_ARCHES (set by `migtest run --arch`), else all. */
export function testArches(): Arch[] {
  return runConfig().arches;
}

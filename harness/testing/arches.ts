import { ARCHES, parseArch, type Arch } from '../images/recipe.js';

/** The arches this run covers: MIGTEST_ARCHES (set by `migtest run --arch`), else all. */
export function testArches(): Arch[] {
  const env = process.env.MIGTEST_ARCHES;
  return env ? env.split(',').map((a) => parseArch(a, 'MIGTEST_ARCHES')) : [...ARCHES];
}

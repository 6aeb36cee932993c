import { MigtestError } from '../util/errors.js';

export class VmStartError extends MigtestError {}

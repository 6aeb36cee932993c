/** Base of every error the harness raises: a message plus structured context for reports. */
export class MigtestError extends Error {
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A wait ran out: says what was awaited, for how long, and the last state seen. */
export class DeadlineError extends MigtestError {
  constructor(
    readonly awaited: string,
    readonly timeoutMs: number,
    readonly lastState: unknown,
  ) {
    super(
      `timed out after ${(timeoutMs / 1000).toFixed(1)}s waiting for ${awaited}; last state: ${describe(lastState)}`,
      { awaited, timeoutMs, lastState },
    );
  }
}

/** Bad input (config, matrix, CLI): names the field and what is allowed. */
export class ConfigError extends MigtestError {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly allowed?: readonly unknown[] | string,
  ) {
    const allowedText =
      allowed === undefined ? '' : `; allowed: ${Array.isArray(allowed) ? allowed.join(', ') : allowed}`;
    super(`invalid ${field}: ${problem}${allowedText}`, { field, allowed });
  }
}

/** The host or a binary lacks what a test needs; the message names it. The scenario reports a skip. */
export class SkipError extends MigtestError {}

/** A check on the guest or the migration failed (liveness, integrity, state). */
export class CheckFailedError extends MigtestError {}

export function describe(value: unknown): string {
  if (value === undefined) return '(nothing seen)';
  if (typeof value === 'string') return value;
  try {
    const s = JSON.stringify(value);
    return s.length > 600 ? `${s.slice(0, 600)}…` : s;
  } catch {
    return String(value);
  }
}

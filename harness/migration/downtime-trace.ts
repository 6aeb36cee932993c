/**
 * QEMU's own account of where the downtime goes: the vmstate_downtime_checkpoint trace
 * events (9.0+), logged to stderr with -msg timestamp=on as "pid@sec.usec:event name".
 */
export const DOWNTIME_TRACE_ARGS = ['-trace', 'vmstate_downtime_checkpoint', '-msg', 'timestamp=on'];

/** Checkpoints (src-downtime-start, src-vm-stopped, ...) in ms after the first one. Pure. */
export function downtimeCheckpoints(stderr: string): Record<string, number> {
  const out: Record<string, number> = {};
  let first: number | undefined;
  for (const m of stderr.matchAll(/^\d+@(\d+\.\d+):vmstate_downtime_checkpoint (\S+)$/gm)) {
    const t = Number(m[1]) * 1000;
    first ??= t;
    out[m[2]!] = Math.round((t - first) * 10) / 10;
  }
  return out;
}

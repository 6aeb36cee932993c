/** A guest kernel's own report of its death, as its console printed it. */
export interface KernelCrash {
  /** The first line that says the kernel died (Oops, BUG, panic, ...). */
  line: string;
  /** That line and the few after it (the faulting function, the call trace's start). */
  excerpt: string[];
}

// What Linux prints when it dies or is about to: x86 and arm64 wordings.
const CRASH = /(Oops|BUG: |Kernel panic|general protection fault|Unable to handle kernel|kernel BUG at|Internal error: |invalid opcode: |stack segment: |watchdog: BUG: soft lockup|rcu: INFO: rcu_\w+ detected stalls)/;
// printk's "[    8.512345] " time stamp, kept out of the quoted line.
const STAMP = /^\s*\[\s*\d+\.\d+\]\s*/;

/** The first kernel crash in a serial log's text, if any. Pure. */
export function kernelCrash(serial: string, context = 6): KernelCrash | undefined {
  const lines = serial.split(/\r?\n/);
  const i = lines.findIndex((l) => CRASH.test(l));
  if (i < 0) return undefined;
  const excerpt = lines.slice(i, i + context).map((l) => l.replace(STAMP, '').trimEnd()).filter(Boolean);
  return { line: excerpt[0]!, excerpt };
}

/** A guest kernel's own report of its death, as its console printed it. */
export interface KernelCrash {
  /** The first line that says the kernel died (Oops, BUG, panic, ...). */
  line: string;
  /** That line and the few after it (the faulting function, the call trace's start). */
  excerpt: string[];
}

// What Linux prints when it dies: x86 and arm64 wordings. Not the EFI stub's "FIRMWARE BUG:"
// complaints about how it was loaded (shim on arm64): the stub moves the kernel and boots on.
const FATAL = /(Oops|(?<!FIRMWARE )BUG: (?!soft lockup)|Kernel panic|general protection fault|Unable to handle kernel|kernel BUG at|Internal error: |invalid opcode: |stack segment: )/;
// What it prints when it may be about to: a stall can also be a host too busy to run the vCPU
// (TCG on a loaded CI runner), so a wait that only needs a verdict on death ignores these.
const STALL = /(watchdog: BUG: soft lockup|rcu: INFO: rcu_\w+ detected stalls)/;
// printk's "[    8.512345] " time stamp, kept out of the quoted line.
const STAMP = /^\s*\[\s*\d+\.\d+\]\s*/;

/**
 * The first kernel crash in a serial log's text, if any; with `fatalOnly`, stalls and soft
 * lockups (which a slow host can cause) don't count. Pure.
 */
export function kernelCrash(serial: string, context = 6, fatalOnly = false): KernelCrash | undefined {
  const lines = serial.split(/\r?\n/);
  const i = lines.findIndex((l) => FATAL.test(l) || (!fatalOnly && STALL.test(l)));
  if (i < 0) return undefined;
  const excerpt = lines.slice(i, i + context).map((l) => l.replace(STAMP, '').trimEnd()).filter(Boolean);
  return { line: excerpt[0]!, excerpt };
}

// What EDK II (OVMF, AAVMF) prints when the firmware itself takes an exception: it then hangs.
const FIRMWARE_CRASH = /!!!! (X64|IA32|AARCH64|ARM) Exception/;

/** The firmware's own report of an exception (it hangs after it), if the console has one. Pure. */
export function firmwareCrash(serial: string, context = 3): KernelCrash | undefined {
  // The console's escape sequences (screen clears) come before EDK II's first line.
  const lines = serial.split(/\r?\n/).map((l) => l.replace(/\x1b\[[0-9;=]*[A-Za-z]/g, ''));
  const i = lines.findIndex((l) => FIRMWARE_CRASH.test(l));
  if (i < 0) return undefined;
  const excerpt = lines.slice(i, i + context).map((l) => l.trimEnd()).filter(Boolean);
  return { line: excerpt[0]!, excerpt };
}

import type { Arch } from '../util/arch.js';
import type { Expectation, MigrationCase, SideSetup } from '../case/model.js';
import { pairCase, refusedStream } from './model.js';

const migrates = (why: string): Expectation => ({ kind: 'migrates', why });
const dies = (why: string): Expectation => ({ kind: 'guest-dies', why });

// x86: QEMU migrates CPU state as registers and never compares CPUID between the sides
// (that is management's job: libvirt checks the models). So the outcome depends on the guest:
const SUPERSET = 'the guest uses only the features it saw at boot; a destination model that has them all runs it';
const SUBSET =
  "the guest kernel picked code paths for the source's features at boot; on a smaller model it faults on the first one " +
  'and hangs (no console output, vCPU in an exception handler), while QEMU reports the migration completed';
// smm= decides whether SMRAM and SMM are emulated; no section of the stream depends on it
// and the running kernel never enters SMM, so either direction completes and keeps running.
const SMM = 'smm is not compared and the running guest never enters SMM';

// Arm is the opposite of x86: CPU state is a list of system registers with values, and the
// destination writes each into its own model, refusing one it lacks or a read-only ID
// register (MIDR, ...) whose value differs. So the model must match.
const ARM_REFUSES = refusedStream("error while loading state for instance 0x0 of device 'cpu'", 'the destination refuses CPU registers its model lacks or whose ID values differ');

/**
 * CPU models and machine options that differ between source and destination, and what
 * QEMU does (observed on 10.0.2 under TCG, then asserted). The seeds asked: does the
 * destination's CPU model or smm setting matter?
 */
export function cpuCases(arch: Arch): MigrationCase[] {
  const pair = (id: string, src: SideSetup, dst: SideSetup, expect: Expectation) => pairCase(id, arch, src, dst, expect);
  if (arch === 'x86_64')
    return [
      pair('Broadwell-IBRS on both sides', { cpu: 'Broadwell-IBRS' }, {}, migrates('same model both sides')),
      pair('max on both sides', { cpu: 'max' }, {}, migrates('same model both sides')),
      pair('qemu64 -> Broadwell-IBRS', { cpu: 'qemu64' }, { cpu: 'Broadwell-IBRS' }, migrates(SUPERSET)),
      pair('Broadwell-IBRS -> qemu64', { cpu: 'Broadwell-IBRS' }, { cpu: 'qemu64' }, dies(SUBSET)),
      pair('max -> qemu64', { cpu: 'max' }, { cpu: 'qemu64' }, dies(SUBSET)),
      pair('smm on -> smm off', { machine: 'q35,smm=on' }, { machine: 'q35,smm=off' }, migrates(SMM)),
      pair('smm off -> smm on', { machine: 'q35,smm=off' }, { machine: 'q35,smm=on' }, migrates(SMM)),
    ];
  return [
    pair('max on both sides', { cpu: 'max' }, {}, migrates('same model both sides')),
    pair('cortex-a57 -> cortex-a72', { cpu: 'cortex-a57' }, { cpu: 'cortex-a72' }, ARM_REFUSES),
    pair('cortex-a72 -> cortex-a57', { cpu: 'cortex-a72' }, { cpu: 'cortex-a57' }, ARM_REFUSES),
    pair('cortex-a57 -> max', { cpu: 'cortex-a57' }, { cpu: 'max' }, ARM_REFUSES),
  ];
}

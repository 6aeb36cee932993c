import type { StartedVm } from '../vm/started.js';

/** The vendor GUID of migtest's own EFI variables (an arbitrary one, so they never collide with a real vendor's). */
export const MIGTEST_EFI_GUID = '6d696774-6573-4774-8000-6566692d7661';
/** Where the firmware reports Secure Boot (EFI_GLOBAL_VARIABLE). */
const SECURE_BOOT = 'SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c';
const EFIVARS = '/sys/firmware/efi/efivars';

// efivarfs mounted where it belongs (the default image's init does not); a no-op once mounted.
const MOUNT = `[ -d /sys/firmware/efi ] || { echo no-efi; exit 0; }; grep -q ' ${EFIVARS} ' /proc/mounts || mount -t efivarfs efivarfs ${EFIVARS} || { modprobe efivarfs && mount -t efivarfs efivarfs ${EFIVARS}; }`;

/** What the guest's kernel says of its firmware: booted through UEFI, and whether Secure Boot is on. */
export async function efiState(vm: StartedVm): Promise<{ efi: boolean; secureBoot?: boolean }> {
  // The whole file (efivarfs reads it whole): 4 bytes of attributes, then the value.
  const r = await (await vm.agent()).sh(`${MOUNT}; f=${EFIVARS}/${SECURE_BOOT}; [ -e $f ] && od -An -tx1 $f || echo none`);
  const out = r.stdout.trim();
  if (out === 'no-efi') return { efi: false };
  const bytes = out.split(/\s+/);
  return { efi: true, secureBoot: out === 'none' ? undefined : bytes[4] === '01' };
}

/** Sets a non-volatile EFI variable (boot-service and runtime access) of migtest's GUID from inside the guest: the firmware writes it to its variable store. */
export async function writeEfiVariable(vm: StartedVm, name: string, value: string): Promise<void> {
  if (!/^[A-Za-z0-9]+$/.test(name) || !/^[A-Za-z0-9 ._-]*$/.test(value)) throw new Error(`writeEfiVariable: name and value must be plain (got ${JSON.stringify([name, value])})`);
  // Attributes 7 (NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS) as 4 little-endian bytes, then the data.
  const r = await (await vm.agent()).sh(`${MOUNT}; printf '\\007\\000\\000\\000%s' '${value}' > ${EFIVARS}/${name}-${MIGTEST_EFI_GUID}`);
  notEfi(vm, r.stdout);
}

// MOUNT's answer when the guest has no EFI runtime: an error, never a variable's value.
function notEfi(vm: StartedVm, stdout: string): void {
  if (stdout.trim() === 'no-efi') throw new Error(`${vm.name}: the guest was not booted through UEFI (no /sys/firmware/efi): it has no EFI variables`);
}

/** Reads one of migtest's EFI variables in the guest; undefined when it does not exist. */
export async function readEfiVariable(vm: StartedVm, name: string): Promise<string | undefined> {
  if (!/^[A-Za-z0-9]+$/.test(name)) throw new Error(`readEfiVariable: the name must be plain (got ${JSON.stringify(name)})`);
  const r = await (await vm.agent()).sh(`${MOUNT}; f=${EFIVARS}/${name}-${MIGTEST_EFI_GUID}; [ -e $f ] && tail -c +5 $f || echo -n __none__`);
  notEfi(vm, r.stdout);
  return r.stdout === '__none__' ? undefined : r.stdout;
}

/** A variable's name as the firmware stores it (UTF-16LE): what to look for in a variable store file. */
export const storedName = (name: string): Buffer => Buffer.from(name, 'utf16le');

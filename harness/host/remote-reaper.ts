import { loadHostsFile, sshTarget, type Role } from './hosts-file.js';
import { logReaped, orphanEntries, unregister, type RegistryEntry } from './registry.js';
import { SshHost } from './ssh/host.js';

/**
 * The groups a dead runner started on other hosts: reconnects with the hosts file it used
 * and kills each by its pid and group, start time checked. A host that cannot be reached
 * keeps its entries for the next run, and is named.
 */
export async function reapRemoteOrphans(): Promise<string[]> {
  const byHost = new Map<string, RegistryEntry[]>();
  for (const e of orphanEntries().filter((x) => x.host?.hostsFile)) {
    const key = `${e.host!.hostsFile}\0${e.host!.name}`;
    byHost.set(key, [...(byHost.get(key) ?? []), e]);
  }
  const notes: string[] = [];
  for (const entries of byHost.values()) {
    const { hostsFile, name } = entries[0]!.host!;
    let host: SshHost;
    try {
      const target = sshTarget(loadHostsFile(hostsFile!), name as Role);
      if (!target) throw new Error(`no ssh entry for ${name}`);
      host = await SshHost.connect(target);
    } catch (e) {
      notes.push(`reaper could not reach host ${name} (${hostsFile}) to clean ${entries.length} group(s): ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    try {
      for (const e of entries) {
        const killed = await host.killGroup(e.pgid, e.startTime);
        unregister(e.pgid, name);
        if (killed) logReaped({ entry: e, killed: [e.pgid], by: 'reaper', at: new Date().toISOString() });
      }
    } finally {
      await host.close();
    }
  }
  return notes;
}

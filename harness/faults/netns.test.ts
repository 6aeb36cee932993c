import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GroupProcess } from '../host/process.js';
import { NetnsLink, reapNetns } from './netns.js';

const root = process.getuid?.() === 0;

/** One line through the link: a socat client in a, an echo server (PIPE) in b. */
async function reaches(link: NetnsLink): Promise<boolean> {
  const r = await execa('ip', ['netns', 'exec', link.a.name, 'socat', '-T2', '-', `TCP:${link.b.addr}:7000,connect-timeout=2`], {
    input: 'ping\n',
    reject: false,
    timeout: 10_000,
  });
  return r.stdout.trim() === 'ping';
}

describe.skipIf(!root)('network namespaces joined by veth (needs root: ip netns, nft)', () => {
  it('connects, partitions silently, heals, and is removed', async () => {
    const link = await NetnsLink.create();
    const echo = GroupProcess.spawn('ip', ['netns', 'exec', link.b.name, 'socat', `TCP-LISTEN:7000,bind=${link.b.addr},reuseaddr,fork`, 'PIPE'], { name: 'echo' });
    try {
      await expect.poll(() => reaches(link), { timeout: 10_000 }).toBe(true);
      await link.partition();
      expect(await reaches(link)).toBe(false);
      await link.heal();
      expect(await reaches(link)).toBe(true);
    } finally {
      await echo.stop();
      await link.destroy();
    }
    expect(existsSync(`/run/netns/${link.a.name}`)).toBe(false);
    expect(existsSync(`/run/netns/${link.b.name}`)).toBe(false);
  });

  it('the reaper removes namespaces whose runner is gone (partition pairs and guest LANs)', async () => {
    // pid 4194303 with start time 1: a runner that cannot be alive.
    const names = ['migtest_4194303_1_1a', 'migtest_4194303_1_2lan'];
    for (const name of names) await execa('ip', ['netns', 'add', name]);
    expect(await reapNetns()).toEqual(expect.arrayContaining(names));
    for (const name of names) expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });
});

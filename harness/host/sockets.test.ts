import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { GROUP_SOCKETS_SCRIPT, listeningPorts, parseGroupSockets, parseProcAddress, parseProcNetTcp } from './sockets.js';
import { localHost } from './local.js';
import { listening } from './host.js';
import { pollUntil } from '../util/time.js';

describe('/proc/net/tcp', () => {
  it('parses addresses and states', () => {
    expect(parseProcAddress('0100007F:1F90')).toEqual(['127.0.0.1', 8080]);
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:A000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    expect(parseProcNetTcp(text)).toEqual([
      { localHost: '127.0.0.1', localPort: 8080, remoteHost: '0.0.0.0', remotePort: 0, state: 'LISTEN', inode: 12345 },
      { localHost: '127.0.0.1', localPort: 40960, remoteHost: '127.0.0.1', remotePort: 8080, state: 'ESTABLISHED', inode: 12346 },
    ]);
  });

  it('finds the port the kernel chose for this very process', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    expect(listeningPorts(process.pid)).toContain(port);
    await new Promise((r) => server.close(r));
  });
});

describe('a group\'s sockets', () => {
  it('the script another host runs reads the same members and listening port as /proc here', async () => {
    const p = await localHost.spawn(['socat', 'TCP-LISTEN:0,bind=127.0.0.1,fork', 'SYSTEM:true'], { name: 'sockets-test' });
    try {
      const here = await pollUntil('socat to listen', 10_000, async () => {
        const g = await localHost.groupSockets(p.pid);
        return { done: listening(g).length > 0, value: g };
      });
      const there = parseGroupSockets((await execa('sh', ['-c', GROUP_SOCKETS_SCRIPT, 'sh', String(p.pid)])).stdout);
      expect(there.members).toEqual(here!.members);
      expect(listening(there)).toEqual(listening(here!));
      expect(there.members).toContain(p.pid);
    } finally {
      await p.stop({ termMs: 2000 });
    }
  });
});

/**
 * A runner that starts a process group on a remote host over ssh (the hosts file's `dst`),
 * prints its pid and start time, then waits to be SIGKILLed by the two-hosts suite: the
 * next reap must find the group in the registry and kill it on that host.
 */
import { loadHostsFile, SshHost, sshTarget } from '../../harness/index.js';

const host = await SshHost.connect(sshTarget(loadHostsFile(process.argv[2]!), 'dst')!);
const p = await host.spawn(['sleep', '600'], { name: 'remote-orphan' });
process.stdout.write(`SPAWNED ${JSON.stringify({ pid: p.pid, startTime: p.startTime })}\n`);
setInterval(() => {}, 1 << 30);

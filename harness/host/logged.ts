import type { Host, HostProcess } from './host.js';

/** A helper started on a host whose stderr comes back into a local artifacts file. */
export interface LoggedProcess {
  proc: HostProcess;
  /** After the process ended: stops following its log and removes its directory there. */
  release(): Promise<void>;
}

/**
 * Starts argv on `host` with stderr into `log` (a local artifacts file). On this machine the
 * process writes the file itself; on another host into a private directory there, followed here.
 */
export async function spawnLogged(host: Host, argv: readonly string[], opts: { name: string; log?: string }): Promise<LoggedProcess> {
  if (host.kind === 'local' || !opts.log) return { proc: await host.spawn(argv, { name: opts.name, stderrFile: opts.log }), release: async () => undefined };
  const dir = await host.privateDir(opts.name);
  const there = `${dir.path}/stderr.log`;
  await host.writeFile(there, '');
  const follower = await host.follow(there, opts.log);
  try {
    const proc = await host.spawn(argv, { name: opts.name, stderrFile: there });
    let released: Promise<void> | undefined;
    return { proc, release: () => (released ??= follower.stop().then(() => dir.cleanup())) };
  } catch (e) {
    await follower.stop();
    await dir.cleanup();
    throw e;
  }
}

import { dir } from 'tmp-promise';

/** A private (0700) directory for sockets; short path so unix socket names fit in 108 bytes. */
export async function privateDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  return dir({ prefix: `migtest-${prefix}-`, tmpdir: '/tmp', mode: 0o700, unsafeCleanup: true });
}

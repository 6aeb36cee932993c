import { describe, expect, it } from 'vitest';
import type { StartedVm } from '../vm/started.js';
import { execOverTcp, incomingUri } from './transport.js';

const dst = { paths: { qmp: '/tmp/migtest-dst-x/qmp.sock' } } as unknown as StartedVm;

describe('exec transport', () => {
  it('on one host: socat over a unix socket in the destination private directory', () => {
    expect(execOverTcp('exec', undefined)).toBe(false);
    expect(execOverTcp('exec', '127.0.0.1')).toBe(false);
    expect(incomingUri(dst, 'exec')).toBe("exec:socat UNIX-LISTEN:'/tmp/migtest-dst-x/exec.sock' -");
  });

  it('across hosts: socat listening on port 0 of the migration address', () => {
    expect(execOverTcp('exec', '10.231.0.2')).toBe(true);
    expect(execOverTcp('tcp', '10.231.0.2')).toBe(false);
    expect(incomingUri(dst, 'exec', '10.231.0.2')).toBe('exec:socat TCP4-LISTEN:0,bind=10.231.0.2 -');
    expect(incomingUri(dst, 'exec', 'fd00::2')).toBe('exec:socat TCP6-LISTEN:0,bind=[fd00::2] -');
  });

  it('refuses an address that is not one, rather than put it in a shell line', () => {
    expect(() => incomingUri(dst, 'exec', 'dst.example; rm -rf /')).toThrow(/must be an IP address/);
  });
});

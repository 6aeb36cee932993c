#!/usr/bin/env python3
"""The bench's bare baseline: one precopy migration over loopback tcp, done by a small script
with no harness, on the two QEMU command lines a migtest run recorded.

    python3 bench/bare.py ARTIFACTS_DIR [--snapshot FILE] [--sequential]
                          [--src-beats N] [--dst-beats N] [--timeout S] [--keep] [--verbose]

ARTIFACTS_DIR is a scenario's artifacts directory from a run of precopy-basic "live precopy
over tcp" (src.argv.json and dst.argv.json, the files `migtest repro` reads). Steps, as the
harness does them, as fast as a careful script can:

  - both QEMUs start at once (the harness starts the destination while the source boots;
    --sequential starts it once the source is up), each in its own process group, its sockets
    in a fresh private directory (the recorded socket and console paths rewritten to it);
  - the source boots until READY and one beat on its heartbeat port; or, with --snapshot FILE
    (the harness's snapshot cache file), starts with -incoming defer, loads FILE
    (migrate-incoming with mapped-ram where QEMU has it, as the harness's snapshot start does),
    `cont`, and one beat after it;
  - the destination listens (migrate-incoming tcp:127.0.0.1:0; the port read back from
    query-migrate); the source migrates to it; completion is waited for by MIGRATION events;
  - the destination's first beat must continue the source's counter (n + 1, no READY);
  - both quit; the QEMUs are killed by process group on any exit.

Prints one JSON line: ok, wallMs (first spawn to both QEMUs gone), marks (ms since the start),
phases (durations), guestDowntimeMs (the largest host-observed gap between beats across the
handover, as the harness's liveness check measures it), QEMU's own total-time and downtime.
stdlib only. Exit 0 when the migration completed and the counter continued, 1 otherwise."""
import argparse, json, os, shlex, shutil, signal, socket, subprocess, sys, tempfile, threading, time

T0 = time.monotonic()


def now_ms():
    return (time.monotonic() - T0) * 1000.0


class Fail(Exception):
    pass


def log(msg):
    if ARGS.verbose:
        print(f'[bare {now_ms():8.1f}ms] {msg}', file=sys.stderr, flush=True)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self, what):
        t = self.end - time.monotonic()
        if t <= 0:
            raise Fail(f'timed out waiting for {what}')
        return t


class Side:
    """One QEMU: its argv, process, monitor and heartbeat."""

    def __init__(self, name, argv, work):
        self.name, self.argv, self.work = name, argv, work
        self.proc = None
        self.qmp = None
        self.hb = None

    def spawn(self):
        self.stderr_path = os.path.join(self.work, f'{self.name}.stderr.log')
        log(f'{self.name}: {shlex.join(self.argv)}')
        with open(self.stderr_path, 'w') as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def stderr_tail(self):
        try:
            with open(self.stderr_path) as f:
                return ' | '.join(f.read().strip().splitlines()[-5:])
        except OSError:
            return ''

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise Fail(f'{self.name}: QEMU exited ({self.proc.returncode}): {self.stderr_tail()}')

    def kill(self):
        """SIGKILL to its process group (its own session), then reap."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                p.kill()
            except ProcessLookupError:
                pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


def connect_unix(side, path, deadline, what):
    while True:
        side.check_alive()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
        deadline.left(f'{side.name}: {what} socket {path}')
        time.sleep(0.005)


class Qmp:
    """A QMP monitor: commands answered by id; events kept with their host arrival time."""

    def __init__(self, side, path, deadline):
        self.side = side.name
        self.sock = connect_unix(side, path, deadline, 'QMP')
        self.f = self.sock.makefile('rb')
        self.sock.settimeout(deadline.left(f'{side.name}: the QMP greeting'))
        try:
            greeting = json.loads(self.f.readline())
        except (OSError, ValueError) as e:
            raise Fail(f'{side.name}: no QMP greeting ({e}): {side.stderr_tail()}')
        self.sock.settimeout(None)
        v = greeting['QMP']['version']['qemu']
        self.version = (v['major'], v['minor'], v['micro'])
        self.cv = threading.Condition()
        self.replies, self.events, self.closed, self.n = {}, [], False, 0
        threading.Thread(target=self._read, daemon=True).start()
        self.cmd('qmp_capabilities')

    def _read(self):
        try:
            for line in self.f:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                with self.cv:
                    if 'event' in msg:
                        self.events.append((now_ms(), msg))
                        log(f"{self.side} event {msg['event']} {json.dumps(msg.get('data', {}))}")
                    elif 'id' in msg:
                        self.replies[msg['id']] = msg
                    self.cv.notify_all()
        except (OSError, ValueError):
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def send(self, name, args=None):
        self.n += 1
        mid = f'b{self.n}'
        msg = {'execute': name, 'id': mid, **({'arguments': args} if args is not None else {})}
        log(f'{self.side} -> {json.dumps(msg)}')
        self.sock.sendall((json.dumps(msg) + '\n').encode())
        return mid

    def cmd(self, name, args=None, timeout=30.0):
        mid = self.send(name, args)
        end = time.monotonic() + timeout
        with self.cv:
            while mid not in self.replies:
                if self.closed:
                    raise Fail(f'{self.side}: QMP closed while waiting for {name}')
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail(f'{self.side}: no answer to {name} in {timeout:.0f}s')
                self.cv.wait(left)
            r = self.replies.pop(mid)
        if 'error' in r:
            raise Fail(f"{self.side}: {name} failed: {r['error'].get('desc')}")
        return r.get('return')

    def wait_event(self, pred, deadline, what, since=0, check=None):
        """The first event at index >= since that pred accepts: (host ms, event)."""
        with self.cv:
            while True:
                for t, e in self.events[since:]:
                    if pred(e):
                        return t, e
                if self.closed:
                    raise Fail(f'{self.side}: QMP closed while waiting for {what}')
                if check:
                    check()
                self.cv.wait(min(deadline.left(f'{self.side}: {what}'), 0.2))


class Heartbeat:
    """The guest's heartbeat port: 'READY boot=...' once booted, then 'HB n mono real' lines."""

    def __init__(self, side, path, deadline):
        self.side = side.name
        self.cv = threading.Condition()
        self.beats = []  # (n, guest mono, host ms)
        self.ready_at = None
        self.ready_index = None
        self.closed = False
        self.sock = connect_unix(side, path, deadline, 'heartbeat')
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self.sock.makefile('r', errors='replace'):
                t = now_ms()
                line = line.strip()
                with self.cv:
                    if line.startswith('HB '):
                        w = line.split()
                        try:
                            self.beats.append((int(w[1]), float(w[2]), t))
                        except (IndexError, ValueError):
                            continue
                    elif line.startswith('READY'):
                        self.ready_at, self.ready_index = t, len(self.beats)
                    self.cv.notify_all()
        except OSError:
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def wait(self, cond, deadline, what, check=None):
        with self.cv:
            while True:
                v = cond()
                if v is not None:
                    return v
                if self.closed:
                    raise Fail(f'{self.side}: heartbeat port closed while waiting for {what}')
                if check:
                    check()
                self.cv.wait(min(deadline.left(f'{self.side}: {what}'), 0.2))

    def count(self):
        with self.cv:
            return len(self.beats)


def largest_gap(beats):
    g = 0.0
    for a, b in zip(beats, beats[1:]):
        g = max(g, b[2] - a[2])
    return g


def read_argv(d, side):
    p = os.path.join(d, f'{side}.argv.json')
    try:
        with open(p) as f:
            a = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail(f'{p}: {e}')
    if not isinstance(a, list) or not a or not all(isinstance(x, str) for x in a):
        raise Fail(f'{p} is not an argv (a list of strings)')
    if os.path.basename(a[0]) == 'ip':
        raise Fail(f'{p}: QEMU ran in a network namespace (ip netns exec); the bare script runs it on this machine only')
    if os.path.exists(os.path.join(d, f'{side}.host.json')):
        raise Fail(f'{d}: {side} ran on another host; the bare script runs both sides on this machine')
    return a


def rewrite(argv, side, work, incoming):
    """The recorded argv with its private directory and console file in `work`, and -incoming as wanted."""
    qmp = next((x for x in argv if x.startswith('socket,id=qmp,path=')), None)
    if qmp is None:
        raise Fail(f'{side}: the argv has no QMP socket (socket,id=qmp,path=...)')
    private = os.path.dirname(qmp.split('path=', 1)[1].split(',', 1)[0])
    mine = os.path.join(work, side)
    os.makedirs(mine, mode=0o700)
    out = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '-incoming' and i + 1 < len(argv):
            i += 2
            continue
        a = a.replace(private, mine)
        if a.startswith('file,') and 'id=console' in a:
            parts = [f'path={os.path.join(work, side + ".serial.log")}' if p.startswith('path=') else p for p in a.split(',')]
            a = ','.join(parts)
        out.append(a)
        i += 1
    if incoming:
        out += ['-incoming', 'defer']
    paths = {'qmp': os.path.join(mine, 'qmp.sock'), 'hb': os.path.join(mine, 'hb.sock')}
    if not any('path=' + paths['hb'] in x for x in out):
        raise Fail(f'{side}: the argv has no heartbeat port ({paths["hb"]}); the guest must be migtest\'s image')
    return out, paths


def migration_status(pred_statuses):
    return lambda e: e.get('event') == 'MIGRATION' and e.get('data', {}).get('status') in pred_statuses


def listening_ports(pid):
    """TCP ports the process listens on, read from /proc (fallback when query-migrate has no socket-address)."""
    inodes = set()
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            t = os.readlink(f'/proc/{pid}/fd/{fd}')
        except OSError:
            continue
        if t.startswith('socket:['):
            inodes.add(t[8:-1])
    ports = set()
    for name in ('tcp', 'tcp6'):
        try:
            with open(f'/proc/{pid}/net/{name}') as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            c = row.split()
            if c[3] == '0A' and c[9] in inodes:
                ports.add(int(c[1].split(':')[1], 16))
    return ports


def run(args, work):
    deadline = Deadline(args.timeout)
    marks, phases = {}, {}

    def mark(k, t=None):
        marks[k] = round(now_ms() if t is None else t, 1)

    snap = args.snapshot
    src_argv, src_paths = rewrite(read_argv(args.dir, 'src'), 'src', work, incoming=bool(snap))
    dst_argv, dst_paths = rewrite(read_argv(args.dir, 'dst'), 'dst', work, incoming=True)
    src, dst = Side('src', src_argv, work), Side('dst', dst_argv, work)
    sides = [src, dst]
    mark('start')

    def both_alive():
        src.check_alive()
        if dst.proc is not None:
            dst.check_alive()

    def start_dst():
        dst.spawn()
        mark('dstSpawned')
        dst.qmp = Qmp(dst, dst_paths['qmp'], deadline)
        dst.hb = Heartbeat(dst, dst_paths['hb'], deadline)
        mark('dstQmp')
        dst.qmp.cmd('migrate-set-capabilities', {'capabilities': [{'capability': 'events', 'state': True}]})
        before = listening_ports(dst.proc.pid)
        dst.qmp.cmd('migrate-incoming', {'uri': 'tcp:127.0.0.1:0'})
        port = None
        for a in (dst.qmp.cmd('query-migrate') or {}).get('socket-address') or []:
            if a.get('type') == 'inet' and a.get('port'):
                port = int(a['port'])
                break
        while port is None:
            new = listening_ports(dst.proc.pid) - before
            if new:
                port = min(new)
                break
            dst.check_alive()
            deadline.left('dst: a listening port after migrate-incoming')
            time.sleep(0.005)
        mark('dstListening')
        log(f'dst listens on 127.0.0.1:{port}')
        return port

    try:
        src.spawn()
        mark('srcSpawned')
        # The source's monitor and heartbeat first (a guest blocks writing until its port is read).
        src.qmp = Qmp(src, src_paths['qmp'], deadline)
        src.hb = Heartbeat(src, src_paths['hb'], deadline)
        mark('srcQmp')
        src.qmp.cmd('migrate-set-capabilities', {'capabilities': [{'capability': 'events', 'state': True}]})
        load_since = len(src.qmp.events)
        # The harness saves its snapshots with mapped-ram where QEMU has it (9.0+): read them so.
        mapped = bool(snap) and any(c['capability'] == 'mapped-ram' for c in src.qmp.cmd('query-migrate-capabilities'))
        if mapped:
            src.qmp.cmd('migrate-set-capabilities', {'capabilities': [{'capability': 'mapped-ram', 'state': True}]})
        if snap:
            uri = f'file:{snap}' if src.qmp.version >= (8, 2, 0) else f'exec:cat < {shlex.quote(snap)}'
            src.qmp.cmd('migrate-incoming', {'uri': uri})
            mark('srcLoadSent')
        port = None if args.sequential else start_dst()
        if snap:
            t, e = src.qmp.wait_event(migration_status(('completed', 'failed', 'cancelled')), deadline, f'loading {snap}', since=load_since, check=both_alive)
            if e['data']['status'] != 'completed':
                raise Fail(f"src: loading {snap} ended {e['data']['status']}: {src.stderr_tail()}")
            mark('srcLoaded', t)
            if mapped:
                src.qmp.cmd('migrate-set-capabilities', {'capabilities': [{'capability': 'mapped-ram', 'state': False}]})
            since = src.hb.count()
            src.qmp.cmd('cont')
            mark('srcCont')
            need = lambda: (src.hb.beats[since + args.src_beats - 1][2] if len(src.hb.beats) >= since + args.src_beats else None)
            mark('srcUp', src.hb.wait(need, deadline, f'{args.src_beats} beat(s) after cont', check=both_alive))
        else:
            mark('srcReady', src.hb.wait(lambda: src.hb.ready_at, deadline, 'READY on the heartbeat port', check=both_alive))
            need = lambda: (src.hb.beats[src.hb.ready_index + args.src_beats - 1][2] if len(src.hb.beats) >= src.hb.ready_index + args.src_beats else None)
            mark('srcUp', src.hb.wait(need, deadline, f'{args.src_beats} beat(s) after READY', check=both_alive))
        if port is None:
            port = start_dst()
        mig_since = len(src.qmp.events)
        dst_since = len(dst.qmp.events)
        src.qmp.cmd('migrate', {'uri': f'tcp:127.0.0.1:{port}'})
        mark('migrateSent')
        t, e = src.qmp.wait_event(migration_status(('completed', 'failed', 'cancelled')), deadline, 'the migration to end', since=mig_since, check=both_alive)
        status = e['data']['status']
        mark('migrateEnded', t)
        info = src.qmp.cmd('query-migrate') or {}
        if status != 'completed':
            raise Fail(f"src: migration {status}: {info.get('error-desc', '')} {src.stderr_tail()}")
        src_last = src.hb.beats[-1] if src.hb.beats else None
        first = dst.hb.wait(lambda: dst.hb.beats[0] if dst.hb.beats else (False if dst.hb.ready_at is not None else None), deadline, "the destination's first beat", check=both_alive)
        if first is False:
            raise Fail('dst: the guest booted again (READY on the destination)')
        mark('dstFirstBeat', first[2])
        for t2, e2 in list(dst.qmp.events[dst_since:]):
            if e2.get('event') == 'RESUME':
                mark('dstResumed', t2)
                break
        # The source's beats were all written before it stopped: its reader has them by now.
        src_last = src.hb.beats[-1] if src.hb.beats else src_last
        if args.dst_beats > 1:
            dst.hb.wait(lambda: True if len(dst.hb.beats) >= args.dst_beats else None, deadline, f'{args.dst_beats} beats on the destination', check=both_alive)
            mark('dstBeats')
        problems = []
        if src_last is None:
            problems.append('no beat from the source')
        elif first[0] != src_last[0] + 1:
            problems.append(f'destination began at beat {first[0]}, source ended at {src_last[0]}')
        if dst.hb.ready_at is not None:
            problems.append('the destination guest booted again (READY)')
        dbeats = list(dst.hb.beats)
        for a, b in zip(dbeats, dbeats[1:]):
            if b[0] != a[0] + 1:
                problems.append(f'destination counter jumped {a[0]} -> {b[0]}')
                break
        gap = largest_gap(src.hb.beats[-200:] + dbeats)
        # Quit both at once; wait for both processes to be gone.
        mark('quitSent')
        for s in sides:
            try:
                s.qmp.send('quit')
            except OSError:
                pass
        for s in sides:
            try:
                s.proc.wait(max(0.1, min(deadline.left(f'{s.name}: QEMU to exit after quit'), 30)))
            except subprocess.TimeoutExpired:
                raise Fail(f'{s.name}: QEMU did not exit after quit')
        mark('exited')
        phases = {
            'srcUp': round(marks['srcUp'] - marks['srcSpawned'], 1),
            'dstListening': round(marks['dstListening'] - marks['dstSpawned'], 1),
            'migrate': round(marks['migrateEnded'] - marks['migrateSent'], 1),
            'handover': round(marks['dstFirstBeat'] - marks['migrateEnded'], 1),
            'quit': round(marks['exited'] - marks['quitSent'], 1),
        }
        if snap:
            phases['snapshotLoad'] = round(marks['srcLoaded'] - marks['srcLoadSent'], 1)
        else:
            phases['boot'] = round(marks['srcReady'] - marks['srcSpawned'], 1)
        return {
            'ok': not problems,
            'mode': 'snapshot' if snap else 'fresh',
            'wallMs': round(marks['exited'] - marks['start'], 1),
            'marks': marks,
            'phases': phases,
            'guestDowntimeMs': round(gap, 1),
            'qemuTotalTimeMs': info.get('total-time'),
            'qemuDowntimeMs': info.get('downtime'),
            'srcLast': src_last[0] if src_last else None,
            'dstFirst': first[0],
            'dstBeats': len(dbeats),
            'port': port,
            'qemu': '.'.join(map(str, src.qmp.version)),
            'problems': problems,
            'from': args.dir,
            **({'snapshot': snap} if snap else {}),
        }
    finally:
        for s in sides:
            s.kill()


ARGS = None


def main():
    global ARGS
    p = argparse.ArgumentParser(description='precopy over loopback tcp on a migtest run\'s recorded argvs, with no harness')
    p.add_argument('dir', help="a scenario's artifacts directory (src.argv.json, dst.argv.json) from precopy-basic 'live precopy over tcp'")
    p.add_argument('--snapshot', help="start the source from this state file (the harness's snapshot cache file) instead of booting it")
    p.add_argument('--sequential', action='store_true', help='start the destination only once the source is up (the harness starts it while the source boots)')
    p.add_argument('--src-beats', type=int, default=1, help='beats to wait for on the source once up (default 1; the harness waits for 3)')
    p.add_argument('--dst-beats', type=int, default=1, help='beats to wait for on the destination (default 1; the harness waits for 30)')
    p.add_argument('--timeout', type=float, default=300.0, help='seconds for the whole run (default 300)')
    p.add_argument('--keep', action='store_true', help='keep the work directory (sockets, stderr and console logs)')
    p.add_argument('--verbose', action='store_true', help='progress and QMP traffic on stderr')
    ARGS = p.parse_args()
    if ARGS.src_beats < 1 or ARGS.dst_beats < 1:
        p.error('--src-beats and --dst-beats are at least 1')
    ARGS.dir = os.path.abspath(ARGS.dir)
    if ARGS.snapshot:
        ARGS.snapshot = os.path.abspath(ARGS.snapshot)
        if not os.path.isfile(ARGS.snapshot):
            p.error(f'--snapshot {ARGS.snapshot}: no such file')
    # A signal ends the run through the finally clauses below (QEMUs killed, work dir removed).
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: sys.exit(128 + n))
    work = tempfile.mkdtemp(prefix='migtest-bare-')
    os.chmod(work, 0o700)
    try:
        try:
            out = run(ARGS, work)
        except Fail as e:
            out = {'ok': False, 'mode': 'snapshot' if ARGS.snapshot else 'fresh', 'error': str(e), 'atMs': round(now_ms(), 1), 'from': ARGS.dir}
        if ARGS.keep:
            out['work'] = work
        print(json.dumps(out), flush=True)
        return 0 if out.get('ok') else 1
    finally:
        if not ARGS.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Replays a migtest scenario without migtest: both QEMU command lines and the QMP commands
of the run, in order, each sent once its side is in the state it was in when the harness
sent it. Written by `migtest repro`; needs only python3 and the QEMU binaries and guest
image files it names. Options: --keep (leave the work directory), --timeout SECONDS."""
import base64, json, os, shlex, shutil, signal, socket, subprocess, sys, tempfile, threading, time

PLAN = json.loads(r'''@PLAN@''')
KEEP = '--keep' in sys.argv
TIMEOUT = float(sys.argv[sys.argv.index('--timeout') + 1]) if '--timeout' in sys.argv else 600.0
TERMINAL = ('completed', 'failed', 'cancelled')
T0 = time.time()


def say(msg):
    print(f'[repro {time.time() - T0:7.2f}s] {msg}', flush=True)


class Qmp:
    def __init__(self, side, path):
        self.side, self.events, self.n = side, [], 0
        end = time.time() + 60
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > end:
                    raise SystemExit(f'{side}: no QMP socket at {path} after 60 s')
                time.sleep(0.05)
        self.f = self.sock.makefile('rw')
        greeting = json.loads(self.f.readline())
        self.oob = 'oob' in greeting['QMP'].get('capabilities', [])
        self.cmd({'execute': 'qmp_capabilities', **({'arguments': {'enable': ['oob']}} if self.oob else {})})

    def cmd(self, msg, quiet=False):
        self.n += 1
        msg = dict(msg, id=f'r{self.n}')
        if 'exec-oob' in msg and not self.oob:
            msg['execute'] = msg.pop('exec-oob')
        if not quiet:
            say(f'{self.side} -> {json.dumps(msg)}')
        self.f.write(json.dumps(msg) + '\n')
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit(f'{self.side}: QMP closed (QEMU exited? see {WORK}/{self.side}.stderr.log)')
            r = json.loads(line)
            if 'event' in r:
                self.events.append(r)
                if r['event'] == 'MIGRATION':
                    say(f"{self.side} event MIGRATION {r['data']['status']}")
                continue
            if r.get('id') == msg['id']:
                if 'error' in r:
                    say(f"{self.side} <- error: {r['error'].get('desc')}")
                return r.get('return')

    def status(self):
        return self.cmd({'execute': 'query-migrate'}, quiet=True) or {}


class Agent:
    """qemu-guest-agent: synced first (its reply comes after a 0xFF), then one JSON line per reply."""

    def __init__(self, side, path, sync_timeout=None):
        self.side = side
        self.sock = socket.socket(socket.AF_UNIX)
        try:
            # A guest still booting answers nothing: a bounded sync lets the caller try again.
            self.sock.settimeout(sync_timeout)
            self.sock.connect(path)
            self.f = self.sock.makefile('rwb')
            token = int(time.time() * 1000) % 2**31
            self.send({'execute': 'guest-sync-delimited', 'arguments': {'id': token}})
            while self.read().get('return') != token:
                pass
        except BaseException:
            # The port takes one client at a time: a failed try's goes before the next.
            self.sock.close()
            raise
        # Every later read is bounded too: a guest that hung must not hang the script.
        self.sock.settimeout(10)

    @staticmethod
    def when_up(side, path, timeout):
        """The agent once it answers a sync (the guest booted), each try bounded to 3 s."""
        end = time.time() + timeout
        while True:
            try:
                return Agent(side, path, sync_timeout=3)
            except (OSError, SystemExit) as e:
                if time.time() > end:
                    raise SystemExit(f'timed out after {timeout:.0f} s waiting for {side}: the guest agent to answer; last: {e}')
                time.sleep(0.2)

    def read_file(self, path):
        self.send({'execute': 'guest-file-open', 'arguments': {'path': path, 'mode': 'r'}})
        h = self.read()['return']
        self.send({'execute': 'guest-file-read', 'arguments': {'handle': h, 'count': 4096}})
        data = base64.b64decode(self.read()['return']['buf-b64']).decode()
        self.send({'execute': 'guest-file-close', 'arguments': {'handle': h}})
        self.read()
        return data

    def uptime(self):
        return float(self.read_file('/proc/uptime').split()[0])

    def boot_id(self):
        return self.read_file('/proc/sys/kernel/random/boot_id').strip()

    def send(self, msg):
        self.f.write((json.dumps(msg) + '\n').encode())
        self.f.flush()

    def read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit(f'{self.side}: the guest agent closed its port')
            line = line.replace(b'\xff', b'').strip()
            if line:
                try:
                    return json.loads(line)
                except ValueError:
                    continue

    def exists(self, path):
        self.send({'execute': 'guest-file-open', 'arguments': {'path': path, 'mode': 'r'}})
        r = self.read()
        if 'return' not in r:
            return False
        self.send({'execute': 'guest-file-close', 'arguments': {'handle': r['return']}})
        self.read()
        return True

    def run(self, path, args, wait):
        self.send({'execute': 'guest-exec', 'arguments': {'path': path, 'arg': args, 'capture-output': wait}})
        pid = self.read()['return']['pid']
        if not wait:
            return 0
        while True:
            self.send({'execute': 'guest-exec-status', 'arguments': {'pid': pid}})
            st = self.read()['return']
            if st['exited']:
                return st.get('exitcode', -1)
            time.sleep(0.05)


class Heartbeat(threading.Thread):
    """The guest writes 'HB n mono real' lines (and READY once booted); it blocks until read."""

    def __init__(self, side, path):
        super().__init__(daemon=True)
        self.side, self.path, self.beats, self.ready = side, path, [], False
        self.start()

    def run(self):
        end = time.time() + 60
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.path)
                break
            except OSError:
                if time.time() > end:
                    return
                time.sleep(0.05)
        for line in s.makefile('r'):
            if line.startswith('READY'):
                self.ready = True
            elif line.startswith('HB '):
                self.beats.append(int(line.split()[1]))


def wait_until(what, fn, timeout=TIMEOUT):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        ok, last = fn()
        if ok:
            return last
        time.sleep(0.05)
    raise SystemExit(f'timed out after {timeout:.0f} s waiting for {what}; last state: {last}')


def listening(pid):
    """TCP ports the process listens on, from /proc (its monitor may be blocked in postcopy)."""
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
            rows = open(f'/proc/{pid}/net/{name}').read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == '0A' and f[9] in inodes:
                ports.add(int(f[1].split(':')[1], 16))
    return ports


WORK = tempfile.mkdtemp(prefix='migtest-repro-')
os.chmod(WORK, 0o700)
procs = {}


def cleanup(*_):
    for side, p in procs.items():
        if p.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 3)):
                try:
                    os.killpg(p.pid, sig) if os.getpgid(p.pid) == p.pid else p.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    pass
    if KEEP:
        say(f'work directory kept: {WORK}')
    else:
        subprocess.run(['rm', '-rf', WORK])


signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
signal.signal(signal.SIGINT, lambda *_: sys.exit(130))

try:
    say(f"replaying {PLAN['scenario']}")
    say(f"from {PLAN['from']}")
    for note in PLAN['notes']:
        say(f'note: {note}')
    qmp, hb = {}, {}
    for side in PLAN['sides']:
        os.makedirs(f'{WORK}/{side}', mode=0o700)
    # What the harness made for the VMs: a variable store copied from its template, an overlay of a disk.
    for made in PLAN.get('files', []):
        to = made['to'].replace('@WORK@', WORK)
        if made['kind'] == 'copy':
            shutil.copyfile(made['from'], to)
        else:
            subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', made['format'], '-b', made['base'], to], check=True)
        say(f'made {to} ({made["kind"]} of {made.get("from") or made.get("base")})')
    for side, argv in PLAN['sides'].items():
        argv = [a.replace('@WORK@', WORK) for a in argv]
        say(f'{side}: {shlex.join(argv)}')
        # Each QEMU in its own process group, killed by it; under a harness that kills this
        # script's group instead (MIGTEST_REPRO_SAME_GROUP=1), in the script's own.
        own = os.environ.get('MIGTEST_REPRO_SAME_GROUP') != '1'
        procs[side] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(f'{WORK}/{side}.stderr.log', 'w'), start_new_session=own)
        qmp[side] = Qmp(side, f'{WORK}/{side}/qmp.sock')
        if os.path.exists(f'{WORK}/{side}') and any('hb.sock' in a for a in argv):
            hb[side] = Heartbeat(side, f'{WORK}/{side}/hb.sock')
    agents = {}
    # A guest without migtest's heartbeat (--liveness agent): its agent says it is up and alive.
    has_agent = {side: any('qga.sock' in a for a in PLAN['sides'][side]) for side in PLAN['sides']}
    src_seen = None
    if 'src' in hb and '-incoming' not in PLAN['sides']['src']:
        wait_until('src: the guest to boot (READY on its heartbeat port)', lambda: (hb['src'].ready and len(hb['src'].beats) >= 3, len(hb['src'].beats)), 300)
        say(f"src: guest up, {len(hb['src'].beats)} beats")
    elif has_agent['src'] and '-incoming' not in PLAN['sides']['src']:
        agents['src'] = Agent.when_up('src', f'{WORK}/src/qga.sock', 300)
        src_seen = (agents['src'].boot_id(), agents['src'].uptime())
        say(f'src: guest up (its agent answers): boot id {src_seen[0]}, uptime {src_seen[1]:.2f} s')
    for g in PLAN['guest']:
        side = g['side']
        if side not in agents:
            agents[side] = Agent(side, f'{WORK}/{side}/qga.sock')
        words = shlex.join([g['path'], *g['arg']])
        if g.get('file'):
            wait_until(f"{side}: guest file {g['path']} to exist (as the run waited on it)", lambda: (agents[side].exists(g['path']), None), 120)
            say(f"{side} guest: {g['path']} exists")
        elif g['untilOk']:
            wait_until(f'{side}: guest command {words} to succeed (as the run waited on it)', lambda: ((lambda rc: (rc == 0, rc))(agents[side].run(g['path'], g['arg'], True))), 120)
            say(f'{side} guest: {words} ok')
        else:
            agents[side].run(g['path'], g['arg'], False)
            say(f'{side} guest: started {words}')
    listen = {}
    for step in PLAN['steps']:
        side, cmd = step['side'], json.loads(json.dumps(step['cmd']).replace('@WORK@', WORK))
        name = cmd.get('execute') or cmd.get('exec-oob')
        if step.get('wait'):
            w = step['wait']
            def reached():
                st = qmp[side].status()
                syncs = (st.get('ram') or {}).get('dirty-sync-count', 0)
                if st.get('status') in TERMINAL and st.get('status') != w['status']:
                    raise SystemExit(f"{side}: migration ended {st.get('status')} before {name} could be sent (the run sent it in {w['status']}): {st.get('error-desc', '')}")
                return st.get('status') == w['status'] and syncs >= w.get('syncs', 0), (st.get('status'), syncs)
            wait_until(f"{side}: status {w['status']} with {w.get('syncs', 0)} dirty syncs before {name}", reached)
        args = cmd.get('arguments', {})
        uri = args.get('uri', '')
        if name in ('migrate-incoming', 'migrate-recover') and uri.startswith('tcp:'):
            before = listening(procs[side].pid)
            qmp[side].cmd(cmd)
            host = uri[4:].rsplit(':', 1)[0]
            port = wait_until(f'{side}: a new listening port after {name}', lambda: (bool(listening(procs[side].pid) - before), sorted(listening(procs[side].pid) - before)), 30)[0]
            listen[side] = f'tcp:{host}:{port}'
            say(f'{side} listens on {listen[side]}')
            continue
        if name == 'migrate' and uri.startswith('tcp:') and 'dst' in listen:
            cmd['arguments'] = dict(args, uri=listen['dst'])
        if name == 'migrate' and src_seen:
            # The guest's uptime just before the migration: the destination's must be past it.
            src_seen = (src_seen[0], agents['src'].uptime())
        qmp[side].cmd(cmd)
    want = PLAN['expect'].get('sourceStatus') or 'completed'
    end_status = wait_until('src: the migration to end', lambda: ((lambda s: (s.get('status') in TERMINAL, s.get('status')))(qmp['src'].status())))
    say(f'src migration {end_status} (the run: {want})')
    ok = end_status == want
    if end_status == 'completed':
        run = wait_until('dst: the guest to run', lambda: ((lambda s: (s.get('status') == 'running', s.get('status')))(qmp['dst'].cmd({'execute': 'query-status'}, quiet=True))), 60)
        if 'dst' in hb:
            last_src = hb['src'].beats[-1] if 'src' in hb and hb['src'].beats else 0
            wait_until('dst: 3 heartbeats', lambda: (len(hb['dst'].beats) >= 3, len(hb['dst'].beats)), 60)
            first = hb['dst'].beats[0]
            say(f'guest alive on the destination: beats {first}..{hb["dst"].beats[-1]} after the source\'s last {last_src}')
            ok = ok and first == last_src + 1
        elif src_seen and has_agent.get('dst'):
            # The host polls the agent: the same boot (id) going on, its uptime past the source's and moving.
            try:
                agent = Agent.when_up('dst', f'{WORK}/dst/qga.sock', 60)
                boot, first = agent.boot_id(), agent.uptime()
                later = wait_until("dst: the guest's uptime to advance", lambda: (lambda u: (u > first, u))(agent.uptime()), 60)
                say(f'guest alive on the destination (from its agent): boot id {boot} (the source\'s: {src_seen[0]}), uptime {first:.2f} -> {later:.2f} s (the source\'s before migrating: {src_seen[1]:.2f} s)')
                ok = ok and boot == src_seen[0] and first >= src_seen[1]
            except OSError as e:
                say(f"dst: the guest's agent stopped answering: {e}")
                ok = False
    say('REPRO OK: the replay ended as the run did' if ok else 'REPRO DIFFERS from the run')
    sys.exit(0 if ok else 1)
finally:
    cleanup()

#!/usr/bin/env python3
"""Passes fd 3 to QEMU over a QMP monitor (getfd, SCM_RIGHTS), then runs one command there.

Node cannot send SCM_RIGHTS, and QMP's fd: URIs only take fds passed by name to the same
monitor; so the harness runs this for the fd: migration transport.
usage: fdpass.py <monitor-socket> <fdname> <command> <arguments-json>
"""
import array
import json
import socket
import sys


def main() -> int:
    path, fdname, command, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    reader = sock.makefile("r")

    def reply(want_id: str) -> dict:
        for line in reader:
            msg = json.loads(line)
            if msg.get("id") == want_id:
                return msg
        raise SystemExit(f"fdpass: monitor closed before the reply to {want_id}")

    json.loads(reader.readline())  # greeting
    sock.sendall(json.dumps({"execute": "qmp_capabilities", "id": "caps"}).encode() + b"\n")
    reply("caps")
    msg = json.dumps({"execute": "getfd", "arguments": {"fdname": fdname}, "id": "getfd"}).encode() + b"\n"
    sock.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [3]))])
    r = reply("getfd")
    if "error" in r:
        print(json.dumps(r))
        return 1
    sock.sendall(json.dumps({"execute": command, "arguments": args, "id": "cmd"}).encode() + b"\n")
    r = reply("cmd")
    print(json.dumps(r))
    return 1 if "error" in r else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""migtest network probe, run inside the guest LAN's namespace.

Pings the guest every --interval seconds over a raw ICMP socket and captures the
announce frames (RARP from QEMU, gratuitous ARP from the guest) seen on the bridge.
One line per fact, flushed at once, so nothing is lost when the harness stops it:
  S <seq> <t>            echo request sent
  R <seq> <t>            echo reply received
  A rarp|arp <mac> <t>   announce frame from the guest's MAC
t is CLOCK_REALTIME in seconds, comparable with QMP event timestamps.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_RARP = 0x8035


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(ident, seq):
    payload = struct.pack("!d", time.time()) + b"migtest-probe"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--mac", required=True)
    args = ap.parse_args()
    mac = bytes(int(b, 16) for b in args.mac.split(":"))
    ident = os.getpid() & 0xFFFF
    out = sys.stdout

    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    cap.bind((args.bridge, 0))
    out.write("READY %.6f\n" % time.time())
    out.flush()

    seq = 0
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_send:
            seq = (seq + 1) & 0xFFFF
            icmp.sendto(echo_request(ident, seq), (args.target, 0))
            out.write("S %d %.6f\n" % (seq, time.time()))
            next_send += args.interval
            # After a stall of this process, do not burst to catch up.
            if next_send < now:
                next_send = now + args.interval
        ready, _, _ = select.select([icmp, cap], [], [], max(0.0, next_send - time.monotonic()))
        for s in ready:
            if s is icmp:
                data = icmp.recv(2048)
                ihl = (data[0] & 0x0F) * 4
                typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if typ == 0 and rid == ident:
                    out.write("R %d %.6f\n" % (rseq, time.time()))
            else:
                frame = cap.recv(2048)
                if len(frame) < 14 or frame[6:12] != mac:
                    continue
                ethertype = struct.unpack("!H", frame[12:14])[0]
                if ethertype == ETH_P_RARP:
                    out.write("A rarp %s %.6f\n" % (args.mac, time.time()))
                elif ethertype == ETH_P_ARP and len(frame) >= 42:
                    spa, tpa = frame[28:32], frame[38:42]
                    if spa == tpa:
                        out.write("A garp %s %.6f\n" % (args.mac, time.time()))
        out.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

#!/usr/bin/env python3
"""A tiny passive BGP speaker that records every message a peer sends it.

It listens on ADDRESS:179 (run it inside a test network namespace), answers the peer's OPEN
with its own OPEN (capabilities chosen on the command line) and a KEEPALIVE, answers
keepalives, and writes each received message, header included, as one line of hex to
OUT/NNN-TYPE.hex. It knows nothing of UPDATE contents: the bytes are the peer's.

  capture.py --listen 192.0.2.1 --asn 64511 --id 192.0.2.1 --out DIR \
             [--families ipv4,ipv6,vpnv4,vpnv6,evpn,rtc] [--no-as4] [--add-path ipv4,...] \
             [--seconds 60]

It stops when the peer closes the connection, after NOTIFICATION, or after --seconds.
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time

FAMILIES = {
    "ipv4": (1, 1),
    "ipv6": (2, 1),
    "vpnv4": (1, 128),
    "vpnv6": (2, 128),
    "evpn": (25, 70),
    "rtc": (1, 132),
}
TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}


def message(msg_type: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), msg_type) + body


def capability(code: int, value: bytes) -> bytes:
    return struct.pack("!BB", code, len(value)) + value


def open_message(asn: int, router_id: str, families, as4: bool, add_path) -> bytes:
    caps = b""
    for name in families:
        afi, safi = FAMILIES[name]
        caps += capability(1, struct.pack("!HBB", afi, 0, safi))
    caps += capability(2, b"")
    if as4:
        caps += capability(65, struct.pack("!I", asn))
    if add_path:
        value = b""
        for name in add_path:
            afi, safi = FAMILIES[name]
            value += struct.pack("!HBB", afi, safi, 3)  # send and receive
        caps += capability(69, value)
    params = struct.pack("!BB", 2, len(caps)) + caps
    my_as = asn if asn <= 0xFFFF else 23456
    body = struct.pack("!BHH", 4, my_as, 90) + socket.inet_aton(router_id) + struct.pack("!B", len(params)) + params
    return message(1, body)


def rtc_default_and_eor(asn: int, as4: bool, families) -> bytes:
    origin = bytes([0x40, 1, 1, 0])
    member = struct.pack("!I", asn) if as4 else struct.pack("!H", asn if asn <= 0xFFFF else 23456)
    segment = bytes([2, 1]) + member
    as_path = bytes([0x40, 2, len(segment)]) + segment
    mp = struct.pack("!HBB", 1, 132, 4) + socket.inet_aton("192.0.2.1") + b"\x00" + b"\x00"
    mp_reach = bytes([0x80, 14, len(mp)]) + mp
    attrs = mp_reach + origin + as_path
    out = message(2, struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs)
    for name in families:
        afi, safi = FAMILIES[name]
        if (afi, safi) == (1, 1):
            out += message(2, struct.pack("!HH", 0, 0))
        else:
            unreach = bytes([0x80, 15, 3]) + struct.pack("!HB", afi, safi)
            out += message(2, struct.pack("!HH", 0, len(unreach)) + unreach)
    return out


def read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=179)
    ap.add_argument("--asn", type=int, required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--families", default="ipv4")
    ap.add_argument("--no-as4", action="store_true")
    ap.add_argument("--add-path", default="")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--rtc-default",
        action="store_true",
        help="after the OPEN, advertise the RT constraint default route (RFC 4684) and send End-of-RIB for every "
        "family, so that a peer holding VPN routes back for route target constraint sends them all",
    )
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    add_path = [f for f in args.add_path.split(",") if f]
    os.makedirs(args.out, exist_ok=True)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.listen, args.port))
    srv.listen(1)
    srv.settimeout(args.seconds)
    conn, peer = srv.accept()
    print(f"capture: connection from {peer}", flush=True)
    deadline = time.monotonic() + args.seconds
    conn.settimeout(1.0)
    lock = threading.Lock()
    stop = threading.Event()

    def keepalives() -> None:
        while not stop.wait(10):
            with lock:
                try:
                    conn.sendall(message(4, b""))
                except OSError:
                    return

    threading.Thread(target=keepalives, daemon=True).start()
    n = 0
    try:
        while time.monotonic() < deadline:
            try:
                header = read_exact(conn, 19)
            except socket.timeout:
                continue
            length, msg_type = struct.unpack("!HB", header[16:19])
            body = read_exact(conn, length - 19)
            raw = header + body
            n += 1
            name = TYPES.get(msg_type, f"type{msg_type}")
            with open(os.path.join(args.out, f"{n:03d}-{name}.hex"), "w") as f:
                f.write(raw.hex() + "\n")
            print(f"capture: {n:03d} {name} {length} octets", flush=True)
            if msg_type == 1:
                with lock:
                    conn.sendall(open_message(args.asn, args.id, families, not args.no_as4, add_path))
                    conn.sendall(message(4, b""))
                    if args.rtc_default:
                        conn.sendall(rtc_default_and_eor(args.asn, not args.no_as4, families))
            elif msg_type == 3:
                break
    except EOFError:
        print("capture: peer closed the connection", flush=True)
    finally:
        stop.set()
        conn.close()
        srv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

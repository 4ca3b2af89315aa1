#!/usr/bin/env python3
"""An abusive HTTP/2 keepalive pinger: connects to HOST:PORT in plaintext HTTP/2 (h2c prior
knowledge, as gRPC clients do), sends PING frames every 20 ms on an idle connection and prints
how the server answered: a GOAWAY frame's error code and debug text, or that it never did.
Exit 0 when the server sent GOAWAY ENHANCE_YOUR_CALM (0xb) within 5 s. Usage: ping_flood.py HOST:PORT"""
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", kind, flags, stream) + payload


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(PREFACE + frame(4, 0, 0))  # SETTINGS
    sock.settimeout(0.02)
    buffer = b""
    pings = 0
    start = time.monotonic()
    while time.monotonic() - start < 5:
        sock.sendall(frame(6, 0, 0, struct.pack(">Q", pings)))  # PING
        pings += 1
        try:
            data = sock.recv(65536)
            if not data:
                print("ping flood: the server closed the connection after %d pings, no GOAWAY" % pings)
                return 1
            buffer += data
        except socket.timeout:
            pass
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            kind, flags = buffer[3], buffer[4]
            if len(buffer) < 9 + length:
                break
            payload = buffer[9:9 + length]
            buffer = buffer[9 + length:]
            if kind == 4 and not flags & 1:
                sock.sendall(frame(4, 1, 0))  # SETTINGS ACK
            elif kind == 7:
                last_stream, code = struct.unpack(">II", payload[:8])
                debug = payload[8:].decode("utf-8", "replace")
                print("ping flood: GOAWAY after %d pings in %.2f s: error code 0x%x, '%s'"
                      % (pings, time.monotonic() - start, code, debug))
                return 0 if code == 0xB else 1
    print("ping flood: %d pings in 5 s and no GOAWAY" % pings)
    return 1


sys.exit(main())

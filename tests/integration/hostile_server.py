#!/usr/bin/env python3
"""An HTTP/1.1 server that answers OpenAI-style requests with responses that never fit in memory.

  POST /v1/big/chat/completions      a non-streaming JSON body of --big-mib MiB (Content-Length)
  POST /v1/big-chunked/chat/...      the same body chunked, its length not declared
  POST /v1/endless/chat/completions  server-sent events, one token each, until the client leaves
  POST /v1/reply/N/chat/completions  a valid non-streaming chat completion whose content is N MiB
                                     of "tok caf\u00e9 " (Content-Length); usage counts 1 token
                                     per "tok"
  POST /v1/reply-chunked/N/chat/...  the same chunked

Prints "listening on 127.0.0.1:PORT" once ready; one thread per connection; loopback only.
"""
import argparse
import socket
import sys
import threading

TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}]}\n\n'


def read_request(conn):
    """Reads one request (headers and Content-Length body); returns its path or None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return lines[0].split(b" ")[1].decode()


def serve(conn, big_bytes):
    try:
        path = read_request(conn)
        if path is None:
            return
        if path.startswith("/v1/big/") or path.startswith("/v1/big-chunked/"):
            chunked = path.startswith("/v1/big-chunked/")
            framing = (b"transfer-encoding: chunked" if chunked else
                       b"content-length: %d" % big_bytes)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
                         framing + b"\r\n\r\n")
            block = b'{"pad":"' + b"x" * (1 << 20)
            sent = 0
            while sent < big_bytes:
                piece = block[:min(len(block), big_bytes - sent)]
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
        elif path.startswith("/v1/reply/") or path.startswith("/v1/reply-chunked/"):
            chunked = path.startswith("/v1/reply-chunked/")
            mib = int(path.split("/")[3])
            piece = b"tok caf\\u00e9 "
            block = piece * ((1 << 20) // len(piece))
            head = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"'
            tail = (b'"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,'
                    b'"completion_tokens":%d}}' % (mib * (len(block) // len(piece))))
            parts = [head] + [block] * mib + [tail]
            framing = (b"transfer-encoding: chunked" if chunked else
                       b"content-length: %d" % sum(len(p) for p in parts))
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
                         framing + b"\r\n\r\n")
            for part in parts:
                conn.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                conn.sendall(b"0\r\n\r\n")
        elif path.startswith("/v1/endless/"):
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")
            events = TOKEN * 256  # one chunked-encoding chunk of 256 token events
            chunk = b"%x\r\n" % len(events) + events + b"\r\n"
            while True:
                conn.sendall(chunk)
        else:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
    except OSError:
        pass  # The client stopped reading and closed: what these responses are for.
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mib", type=int, default=300)
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, args.big_mib << 20), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

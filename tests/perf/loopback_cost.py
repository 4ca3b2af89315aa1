#!/usr/bin/env python3
"""What one loopback TCP write costs on this machine, writer and reader each on a core of its own.

Prints the CPU (user and system) per write of the writer and of the reader, first back to back
(neither side sleeps), then paced (one write every GAP microseconds, so the reader sleeps
between writes and each write wakes it, as bench-sim's token writes wake the engine; the
writer's paced figure includes its own sleep and wake-up, as the sim's timer does). The
figures bound what a token server can cost per write: on loopback the writer's system call also
runs the TCP receive path and wakes the reader, so its system time covers both ends' TCP work.

  tests/perf/loopback_cost.py [--size BYTES] [--writes N] [--gap US]
"""
import argparse
import os
import socket
import time


def reader(port, writes):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    conn = socket.create_connection(("127.0.0.1", port))
    before = os.times()
    total = 0
    while True:
        data = conn.recv(1 << 20)
        if not data:
            break
        total += len(data)
    after = os.times()
    return total, after.user - before.user, after.system - before.system


def run(size, writes, gap_us):
    cores = sorted(os.sched_getaffinity(0))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        total, user, system = reader(port, writes)
        os.write(write_end, f"{total} {user} {system}".encode())
        os._exit(0)
    os.close(write_end)
    os.sched_setaffinity(0, {cores[-1]})
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = b"x" * size
    before = os.times()
    start = time.monotonic()
    for i in range(writes):
        conn.sendall(payload)
        if gap_us:
            due = start + (i + 1) * gap_us / 1e6
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    after = os.times()
    conn.close()
    os.waitpid(child, 0)
    total, r_user, r_system = (float(x) for x in os.read(read_end, 200).split())
    if int(total) != size * writes:
        raise SystemExit(f"the reader got {int(total)} bytes of {size * writes}")
    per = 1e6 / writes
    mode = f"paced, one every {gap_us:g} us" if gap_us else "back to back"
    print(f"{writes} writes of {size} B ({mode}): writer user {(after.user - before.user) * per:.2f}"
          f" / system {(after.system - before.system) * per:.2f} us per write; reader user"
          f" {r_user * per:.2f} / system {r_system * per:.2f} us per write")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=100000)
    parser.add_argument("--gap", type=float, default=100.0)
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs two cores")
    run(args.size, args.writes, 0)
    run(args.size, max(1, args.writes // 5), args.gap)


if __name__ == "__main__":
    main()

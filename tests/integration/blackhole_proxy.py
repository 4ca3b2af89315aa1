#!/usr/bin/env python3
"""A TCP proxy on loopback that can blackhole traffic, as a network partition does.

  blackhole_proxy.py TARGET_PORT     prints "listening on 127.0.0.1:PORT" once ready
  SIGUSR1: blackhole - nothing more is delivered either way, nothing is reset: bytes (and a
           close) wait in the proxy and the kernel's buffers, so senders stall as their TCP
           windows fill, as when a partition drops packets; new connections are accepted but
           not connected onwards.
  SIGUSR2: heal - everything held is delivered, in order, and traffic flows again (what TCP's
           retransmissions achieve after a partition shorter than their give-up time).
"""
import asyncio
import signal
import sys


async def main():
    target_port = int(sys.argv[1])
    flowing = asyncio.Event()
    flowing.set()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, flowing.clear)
    loop.add_signal_handler(signal.SIGUSR2, flowing.set)

    async def pipe(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                await flowing.wait()  # held while blackholed, EOF included
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def on_client(client_reader, client_writer):
        await flowing.wait()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer),
                             pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

"""A minimal, fast SMTP sink for benchmarks, run in its own process.

aiosmtpd's DATA reader parses line by line and would cap the measurement at the
sink's speed; this sink reads DATA in chunks and only counts messages, so the
figures describe the sender.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import socket

END = b"\r\n.\r\n"


class SinkProtocol(asyncio.Protocol):
    """Speaks just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, RSET, QUIT."""

    def __init__(self, counter: multiprocessing.Value) -> None:
        self.counter = counter
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(END)
                if end < 0:
                    # Keep only a tail that could hold the start of the terminator.
                    self.buffer = self.buffer[-4:]
                    return
                self.buffer = self.buffer[end + len(END) :]
                self.in_data = False
                with self.counter.get_lock():
                    self.counter.value += 1
                self.transport.write(b"250 2.0.0 Ok\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line, self.buffer = self.buffer[:line_end], self.buffer[line_end + 2 :]
            self.command(line[:4].upper())

    def command(self, verb: bytes) -> None:
        if verb == b"EHLO":
            self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
        elif verb == b"DATA":
            self.in_data = True
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        else:
            self.transport.write(b"250 Ok\r\n")


def _serve(port: int, counter: multiprocessing.Value, ready, cpu) -> None:  # noqa: ANN001
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SinkProtocol(counter), "127.0.0.1", port
        )
        ready.set()
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(main())
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu.value = usage.ru_utime + usage.ru_stime


class Sink:
    """Start the sink process; read how many messages it accepted."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.counter = multiprocessing.Value("l", 0)
        self.cpu = multiprocessing.Value("d", 0.0)
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_serve, args=(self.port, self.counter, ready, self.cpu), daemon=True
        )
        self.process.start()
        ready.wait(10)

    @property
    def count(self) -> int:
        return self.counter.value

    def cpu_seconds(self) -> float:
        """CPU time the sink used so far (read via /proc while it runs)."""
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / float(__import__("os").sysconf("SC_CLK_TCK"))

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)

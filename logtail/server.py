"""Running the app under uvicorn, with a shutdown that does not wait for endless streams.

uvicorn waits for open connections to close before it runs the lifespan shutdown, and SSE connections never
close by themselves. So on SIGTERM/SIGINT we end every stream first (each gets a final `shutdown` notice),
then uvicorn's own sequence runs; `timeout_graceful_shutdown` bounds whatever is left.

With `workers > 1` the parent binds the socket and starts that many processes sharing it; each follows the
files itself (no shared state between workers, so each has its own hub and memory).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
from types import FrameType

import uvicorn

from .app import create_app
from .config import Settings
from .state import AppState

log = logging.getLogger(__name__)


class LogtailServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: AppState) -> None:
        super().__init__(config)
        self.state = state
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()  # for handle_exit, which runs outside the loop
        await super().startup(sockets)
        # After send_timeout a stream ends (stream.py), but uvicorn then closes the transport gracefully,
        # waiting for the peer to drain what is buffered: a client that never reads would keep its
        # connection and buffers forever. The kernel aborts a connection whose data stays unacknowledged
        # (zero window) this long; accepted sockets inherit the option from the listening one.
        option = getattr(socket, "TCP_USER_TIMEOUT", None)
        if option is not None:
            for server in getattr(self, "servers", []):
                for sock in server.sockets:
                    sock.setsockopt(socket.IPPROTO_TCP, option, int(self.state.settings.send_timeout * 1000))

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and not self._loop.is_closed():
            # Signal handlers run between bytecodes: hand the work to the loop instead of doing it here.
            self._loop.call_soon_threadsafe(self.state.shutdown_streams)


def uvicorn_config(settings: Settings) -> tuple[uvicorn.Config, AppState]:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        root_path=settings.root_path,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        timeout_graceful_shutdown=int(max(1, settings.shutdown_timeout)),
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        server_header=False,
        lifespan="on",
    )
    return config, app.state.logtail


def serve(settings: Settings) -> None:
    if settings.workers > 1:
        _serve_workers(settings)
        return
    config, state = uvicorn_config(settings)
    LogtailServer(config, state).run()


def _run_worker(settings: Settings, sock: socket.socket) -> None:
    config, state = uvicorn_config(settings)
    LogtailServer(config, state).run(sockets=[sock])


def _serve_workers(settings: Settings) -> None:
    config, _ = uvicorn_config(settings)
    sock = config.bind_socket()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_run_worker, args=(settings, sock), name=f"logtail-worker-{i}")
               for i in range(settings.workers)]
    for w in workers:
        w.start()

    def forward(sig: int, frame: FrameType | None) -> None:
        for w in workers:
            if w.is_alive() and w.pid is not None:
                try:
                    os.kill(w.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        for w in workers:
            w.join()
    finally:
        sock.close()

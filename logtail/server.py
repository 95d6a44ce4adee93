"""Running the app under uvicorn, with a shutdown that does not wait for endless streams.

uvicorn waits for open connections to close before it runs the lifespan shutdown, and SSE connections never
close by themselves. So on SIGTERM/SIGINT we end every stream first (each gets a final `shutdown` notice),
then uvicorn's own sequence runs; `timeout_graceful_shutdown` bounds whatever is left.

With `workers > 1` the parent binds the socket (and builds no app) and `Workers` keeps that many processes
serving it, replacing any that dies, as uvicorn's own `Multiprocess` supervisor does; each worker follows the
files itself (no shared state between workers, so each has its own hub and memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from logtail.app import create_app
from logtail.config import ConfigError, Settings
from logtail.core import collector
from logtail.web.gate import read_access
from logtail.web.headertimeout import HeaderTimeoutProtocol
from logtail.web.state import AppState

log = logging.getLogger(__name__)

# A worker's exit code when its configuration is wrong: the CLI's own code for a ConfigError.
CONFIG_FAILURE = 2


class LogtailServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: AppState) -> None:
        super().__init__(config)
        self.state = state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

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

    async def main_loop(self) -> None:
        # uvicorn's own loop wakes ten times a second to look at `should_exit`: most of an idle server's
        # wake-ups. This one ticks once a second (refreshing the Date header, which uvicorn does on every
        # tenth tick) and is woken at once by handle_exit.
        exit_requested = self._exit = asyncio.Event()
        tick = 0
        while not await self.on_tick(tick):
            tick += 10
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await exit_requested.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and not self._loop.is_closed():
            # Signal handlers run between bytecodes: hand the work to the loop instead of doing it here.
            self._loop.call_soon_threadsafe(self.state.shutdown_streams)
            if self._exit is not None:
                self._loop.call_soon_threadsafe(self._exit.set)


def uvicorn_config(settings: Settings) -> tuple[uvicorn.Config, AppState]:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        root_path=settings.root_path,
        proxy_headers=False,  # applied by the app, after it records the peer (app.py)
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        timeout_graceful_shutdown=int(max(1, settings.shutdown_timeout)),
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        server_header=False,
        lifespan="on",
        http=HeaderTimeoutProtocol,  # closes connections whose headers never arrive (slowloris)
    )
    return config, app.state.logtail


def serve(settings: Settings) -> None:
    if settings.workers > 1:
        _serve_workers(settings)
        return
    config, state = uvicorn_config(settings)
    collector.install()
    LogtailServer(config, state).run()


def _run_worker(settings: Settings, sock: socket.socket) -> None:
    # A spawned worker is a new interpreter: without this, logtail's own INFO lines (the audit trail, reloads)
    # would be dropped there (the CLI configured logging in the supervisor only).
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config, state = uvicorn_config(settings)
    except ConfigError as exc:
        # The supervisor checked the users and rules before starting workers; a file changed since then (or
        # another mistake found only when the app is built) ends this worker, and with it the supervisor.
        print(f"logtail: error: {exc}", file=sys.stderr)
        raise SystemExit(CONFIG_FAILURE) from None
    collector.install()
    LogtailServer(config, state).run(sockets=[sock])


def _serve_workers(settings: Settings) -> None:
    # What a worker would refuse at start (the users file, the access rules) is refused here once, as
    # `logtail serve` without workers refuses it: one message and exit 2, not workers dying in a loop.
    read_access(settings)
    sock = _bind(settings)
    try:
        Workers(settings, sock).run()
    finally:
        sock.close()


def _bind(settings: Settings) -> socket.socket:
    """The listening socket the workers share, made as uvicorn's `Config.bind_socket` makes it."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class Workers:
    """Keeps `settings.workers` processes serving one socket until SIGTERM or SIGINT.

    A worker that dies is replaced (checked every `CHECK_INTERVAL`), unless it failed to start: then the
    app or the socket is broken and every replacement would fail the same way, so everything stops.
    """

    CHECK_INTERVAL = 0.5

    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.ctx = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.should_exit = threading.Event()
        self.failed: int | None = None  # the exit code of a worker that failed to start

    def run(self) -> None:
        # The handlers only set a flag: the loop below does the work, between two checks.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.should_exit.set())
        # SIGHUP reloads users and access rules: each worker does it itself (app.py).
        signal.signal(signal.SIGHUP, lambda signum, frame: self._signal_all(signal.SIGHUP))
        self.processes = [self._start(i) for i in range(self.settings.workers)]
        while not self.should_exit.wait(self.CHECK_INTERVAL):
            self._replace_dead()
        self._stop_all()
        if self.failed is not None:
            raise SystemExit(self.failed)

    def _start(self, index: int) -> BaseProcess:
        process = self.ctx.Process(target=_run_worker, args=(self.settings, self.sock),
                                   name=f"logtail-worker-{index}")
        process.start()
        return process

    def _replace_dead(self) -> None:
        for i, process in enumerate(self.processes):
            if process.is_alive():
                continue
            process.join()
            if process.exitcode in (STARTUP_FAILURE, CONFIG_FAILURE):
                log.error("worker %s failed to start; stopping", process.pid)
                self.failed = process.exitcode
                self.should_exit.set()
                return
            log.warning("worker %s died (exit code %s); starting another", process.pid, process.exitcode)
            self.processes[i] = self._start(i)

    def _signal_all(self, sig: int) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)

    def _stop_all(self) -> None:
        self._signal_all(signal.SIGTERM)  # each worker ends its streams and shuts down
        # Workers bound their own shutdown by `shutdown_timeout`; one that overruns it by far is stuck.
        deadline = time.monotonic() + max(1.0, self.settings.shutdown_timeout) + 10
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s did not stop; killing it", process.pid)
                process.kill()
                process.join()

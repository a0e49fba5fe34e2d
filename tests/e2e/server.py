"""The real app as a subprocess: `kaquan setup`, then `kaquan serve` (and `kaquan worker` with Redis)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KAQUAN = [str(Path(sys.executable).parent / "kaquan")]
OWNER_PASSWORD = "owner's e2e password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log: Path
    worker: subprocess.Popen[bytes] | None = None

    def kaquan(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*KAQUAN, *args], env={**self.env, **env}, capture_output=True, text=True, timeout=60, check=False
        )

    def start_worker(self) -> None:
        """`kaquan worker` in its own process group: killing the group takes its forked workers too."""
        with self.log.open("a") as sink:
            self.worker = subprocess.Popen(
                [*KAQUAN, "worker", "--processes", "1", "--threads", "2"],
                env=self.env,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )

    def kill_worker(self) -> None:
        """As a crash or an OOM kill would: SIGKILL, no clean shutdown, messages in flight unacknowledged."""
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=15)
            self.worker = None

    def stop_worker(self) -> None:
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_worker()
            self.worker = None

    def add_staff(self, username: str, role: str, password: str) -> None:
        done = self.kaquan("user", "create", username, "--role", role, KAQUAN_NEW_PASSWORD=password)
        assert done.returncode == 0, done.stderr


@contextmanager
def running_app(tmp: Path, **env: str) -> Iterator[Server]:
    # The app's own settings come only from here, never from whoever runs the tests.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KAQUAN_") or k.startswith("KAQUAN_TEST_")}
    environment = {
        **inherited,
        "KAQUAN_VAR_DIR": str(tmp / "var"),
        "KAQUAN_ADMIN_PASSWORD": OWNER_PASSWORD,
        "KAQUAN_LOG_JSON": "true",
        **env,
    }
    setup = subprocess.run(
        [*KAQUAN, "setup", "--no-demo"], env=environment, capture_output=True, text=True, check=False
    )
    assert setup.returncode == 0, setup.stderr
    port = int(env.get("KAQUAN_PORT") or free_port())  # given: the app knows its own address (callback URLs)
    log = tmp / "server.log"
    with log.open("w") as sink:
        web = subprocess.Popen([*KAQUAN, "serve", "--port", str(port)], env=environment, stdout=sink, stderr=sink)
    server = Server(f"http://127.0.0.1:{port}", environment, log)
    try:
        if env.get("KAQUAN_REDIS_URL"):
            server.start_worker()
        _wait_until_healthy(server.url, web, log)
        yield server
    finally:
        server.stop_worker()
        web.terminate()
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become healthy:\n{log.read_text()}")

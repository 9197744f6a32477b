"""The fake APIs as a process of a benchmark's own, on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import requests


class FakeProcess:
    """`command` (with `{port}` where the port goes) serving the fakes; returns once they answer."""

    def __init__(self, command: list[str], *, start_timeout: float = 300):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cometly_url = f"{self.url}/public-api/v1"
        self.proc = subprocess.Popen([part.replace("{port}", str(self.port)) for part in command],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the fake exited with {self.proc.returncode}")
            try:
                requests.get(f"{self.url}/_fake/health", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.3)
        sys.exit(f"the fake did not start within {start_timeout / 60:.0f} minutes")

    def calls(self, api: str | None = None) -> list[dict]:
        """The calls logged so far, those to `api` ("cometly", "meta") if given."""
        return [c for c in requests.get(f"{self.url}/_fake/calls", timeout=60).json()["calls"]
                if api in (None, c["api"])]

    def forget_calls(self) -> None:
        requests.delete(f"{self.url}/_fake/calls", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)

"""Starts a real Strata server (the Release build) on a free loopback port with a temporary data folder."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DEFAULT_DLL = os.path.join(REPO, "src", "Strata.Server", "bin", "Release", "net10.0", "strata-server.dll")

#: A tenant whose request rate is tiny, for a real 429.
THROTTLED = "throttled"


def server_dll() -> str:
    """The server to run: $STRATA_SERVER_DLL, else the Release build in this repository."""
    return os.environ.get("STRATA_SERVER_DLL") or DEFAULT_DLL


def why_not_runnable() -> Optional[str]:
    """None when a server can be started here, else why not."""
    if shutil.which("dotnet") is None:
        return "dotnet is not on PATH"
    if not os.path.isfile(server_dll()):
        return f"no server build at {server_dll()} (dotnet build Strata.slnx -c Release)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process, its URL and its admin token; :meth:`stop` ends it and removes its data."""

    def __init__(self) -> None:
        self.data = tempfile.mkdtemp(prefix="strata-pysdk-")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(os.path.join(self.data, "..", os.path.basename(self.data) + ".log"), "wb")
        args = ["dotnet", server_dll(), "--urls", self.url, f"--Strata:DataPath={os.path.join(self.data, 'data')}",
                f"--RateLimits:Tenants:{THROTTLED}:Burst=2", f"--RateLimits:Tenants:{THROTTLED}:TokensPerPeriod=1",
                f"--RateLimits:Tenants:{THROTTLED}:PeriodSeconds=600"]
        # Its own session, so that stop() ends whatever it started that is still in its group.
        self.process = subprocess.Popen(args, cwd=self.data, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.admin_token = self._wait_until_up()

    def _wait_until_up(self) -> str:
        token_file = os.path.join(self.data, "data", "admin-token")
        ends = time.monotonic() + 60
        while time.monotonic() < ends:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self._log.name}")
            try:
                with urllib.request.urlopen(self.url + "/v1/health", timeout=2):
                    pass
                if os.path.isfile(token_file):
                    with open(token_file) as f:
                        return f.read().strip()
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within 60 s; see {self._log.name}")

    def admin(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """An admin request (tenants and their tokens are not the SDK's business)."""
        request = urllib.request.Request(self.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": "Bearer " + self.admin_token,
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            return json.loads(text) if text else None

    def tenant(self, tenant_id: str, quota: Optional[Dict[str, Any]] = None, role: str = "owner") -> str:
        """Creates a tenant and returns a token of it with ``role``."""
        body: Dict[str, Any] = {"id": tenant_id, "name": tenant_id}
        if quota:
            body["quota"] = quota
        self.admin("POST", "/v1/tenants", body)
        return self.admin("POST", f"/v1/tenants/{tenant_id}/tokens", {"role": role})["token"]

    def stop(self) -> None:
        """Ends the server (and its process group) and removes its data folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        os.remove(self._log.name)
        self._remove_data()
        # A job's worker outlives its server on purpose, and exits within seconds once its folder is gone;
        # it may write its result on the way out, so the folder is removed again after it has left.
        ends = time.monotonic() + 20
        while self._workers() and time.monotonic() < ends:
            time.sleep(0.2)
        self._remove_data()

    def _workers(self) -> bool:
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if self.data.encode() in f.read():
                            return True
                except OSError:
                    pass
        return False

    def _remove_data(self) -> None:
        # The input cache's folders are read-only (0555): make them writable to remove them.
        for folder, _, _ in os.walk(self.data):
            try:
                os.chmod(folder, 0o700)
            except OSError:
                pass
        shutil.rmtree(self.data, ignore_errors=True)

"""A local ``http.server`` that plays scripted answers and records what the SDK sent."""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import unittest
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

DROP = "drop"  # an answer that closes the connection without a response
PARTIAL = "partial"


@dataclass
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class FakeApi:
    """Routes are (method, path without query); each has a list of answers used in turn, the last repeating."""

    def __init__(self) -> None:
        self.requests: List[Recorded] = []
        self._routes: Dict[Tuple[str, str], List[Any]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    answers = fake._routes.get((self.command, self.path.split("?", 1)[0]))
                    answer = (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else (404, {"type": "urn:strata:problem:not-found", "detail": "no route " + self.path}, {})
                if answer == DROP:
                    self.close_connection = True
                    return
                if answer[0] == PARTIAL:  # (PARTIAL, text sent, length announced): the stream breaks off
                    self.send_response(200)
                    self.send_header("Content-Length", str(answer[2]))
                    self.end_headers()
                    self.wfile.write(answer[1].encode())
                    self.close_connection = True
                    return
                status, payload, headers = answer
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    content_type = "application/problem+json" if status >= 400 else "application/json"
                elif isinstance(payload, str):
                    data, content_type = payload.encode(), "text/plain"
                else:
                    data, content_type = payload or b"", "application/octet-stream"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def on(self, method: str, path: str, *answers: Any) -> None:
        """Answers (status, payload, headers) or DROP, in turn; the last repeats."""
        self._routes[(method, path)] = [a if a == DROP or len(a) == 3 else (a[0], a[1], {}) for a in answers]

    def sent(self, method: Optional[str] = None, path: Optional[str] = None) -> List[Recorded]:
        return [r for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path.split("?", 1)[0] == path)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def temporary_folder(test: unittest.TestCase) -> str:
    """A new folder, removed after ``test``."""
    folder = tempfile.mkdtemp(prefix="strata-pysdk-unit-")
    test.addCleanup(shutil.rmtree, folder, True)
    return folder

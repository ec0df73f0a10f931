"""A small loopback server in front of the real depcanary server, to break it on demand.

Modes: "proxy" (pass everything through), "hang" (accept, read, never answer), "garbage-http"
(a 200 with an HTML page), "garbage-bytes" (bytes that are not HTTP), "http-500", "refuse"
(close at once), "lose-answer" (pass POST /v1/reports through but drop the answer, as a
network cut after the server stored it would), "no-branch-header" (pass through but drop
`X-Depcanary-Branch`, as a server from before branches answers). `report_delay` holds each POST /v1/reports
back that many seconds first (a slow link), in any mode that passes requests through. Not a
fake depcanary: it never answers on the server's behalf.
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

JUNK = b"\x00\xff\xfe garbage \x13\x37 not http at all\r\n\r\n" * 4
HTML = b"<html><head><title>Captive portal</title></head><body>Please log in</body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        mode = self.server.mode
        if mode == "refuse":
            self.request.close()
            return
        if mode == "hang":
            self.request.recv(65536)
            self.server.stop.wait(300)  # until the test ends
            return
        if mode == "garbage-bytes":
            self.request.recv(65536)
            self.request.sendall(JUNK)
            return
        super().handle()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _proxy(self) -> None:
        mode = self.server.mode
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if mode == "garbage-http":
            self._answer(200, HTML, "text/html")
            return
        if mode == "http-500":
            self._answer(500, b'{"error": {"code": "internal", "message": "boom"}}', "application/json")
            return
        if self.command == "POST" and self.server.report_delay:
            self.server.stop.wait(self.server.report_delay)
        target = urllib.parse.urlsplit(self.server.target)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.server.seen.append((self.command, self.path.split("?")[0], resp.status))
        self.server.paths.append(self.path)
        if mode == "lose-answer" and self.command == "POST":
            self.request.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if mode == "no-branch-header" and key.lower() == "x-depcanary-branch":
                continue
            if key.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = _proxy


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target = target
        self.mode = "proxy"
        self.report_delay = 0.0
        self.stop = threading.Event()
        self.seen: list[tuple[str, str, int]] = []
        self.paths: list[str] = []  # with their query strings


def _setting(name: str) -> property:
    """A Front attribute that stands for the attribute of that name of the serving thread."""
    return property(
        lambda front: getattr(front._server, name), lambda front, value: setattr(front._server, name, value)
    )


class Front:
    mode = _setting("mode")
    report_delay = _setting("report_delay")

    def __init__(self, target: str) -> None:
        self._server = _Server(target)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def seen(self) -> list[tuple[str, str, int]]:
        return self._server.seen

    @property
    def paths(self) -> list[str]:
        return self._server.paths

    def close(self) -> None:
        self._server.stop.set()
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"

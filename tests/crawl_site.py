"""A small website on loopback for the crawl tests: pages with the demo's benign photos, a redirect chain,
a huge file, links to private addresses, a robots.txt that disallows a path, and an "internal" server on
127.0.0.2 that must never be reached. Every request is counted, by server and path."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from tests.conftest import ASSETS

HUGE = 6 * 1024 * 1024  # bytes /huge.jpg serves: over the tests' 1 MiB per-response cap


def _page(body: str) -> bytes:
    return f"<!doctype html><html><head><meta charset=utf-8>{body}".encode()


class Site(BaseHTTPRequestHandler):
    hits: ClassVar[Counter[str]] = Counter()
    times: ClassVar[list[float]] = []  # when each request to 127.0.0.1 arrived (time.monotonic)
    internal: ClassVar[str] = ""  # http://127.0.0.2:PORT

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        host = self.server.server_address[0]
        type(self).hits[f"{host}{self.path}"] += 1
        type(self).times.append(time.monotonic())
        if host != "127.0.0.1":
            return self._send(200, "text/html", b"<p>internal service</p>")
        path = self.path.split("?")[0]
        if path == "/robots.txt":
            return self._send(200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
        if path == "/":
            return self._send(200, "text/html; charset=utf-8", self._index())
        if path == "/page2.html":
            body = _page(
                '<title>2</title></head><body><img src="img/elephants.jpg"><a href="/page3.html">3</a>'
            )
            return self._send(200, "text/html", body)
        if path in ("/page3.html", "/private/secret.html"):
            return self._send(200, "text/html", _page("<body><img src=/img/garden.jpg>"))
        if path in ("/r1", "/r2"):
            return self._redirect("/r2" if path == "/r1" else "/img/astronaut.jpg")
        if path == "/evil":
            return self._redirect(f"{self.internal}/latest/meta-data")
        if path == "/huge.jpg":
            return self._huge()
        if path == "/slow":
            time.sleep(3)
            try:
                return self._send(200, "text/html", b"<p>late</p>")
            except (BrokenPipeError, ConnectionResetError):  # the crawler gave up long ago
                return None
        photos = {
            "/img/obama.jpg": "obama.jpg",
            "/img/biden.jpg": "biden.jpg",
            "/img/biden2.jpg": "biden2.jpg",
            "/img/og.jpg": "mate-Dune.jpg",
            "/img/astronaut.jpg": "astronaut.jpg",
            "/img/elephants.jpg": "mate-Elephants.jpg",
            "/img/garden.jpg": "mate-Garden.jpg",
        }
        if path in photos:
            data = (ASSETS / photos[path]).read_bytes()
            return self._send(200, "image/jpeg", data, chunked=path.endswith("2.jpg"))
        self._send(404, "text/plain", b"not here")

    def _index(self) -> bytes:
        return _page(
            '<meta property="og:image" content="/img/og.jpg"><title>index</title></head><body>'
            '<img src="/img/obama.jpg" alt="a">'
            '<picture><img srcset="/img/biden.jpg 1x, /img/biden2.jpg 2x"></picture>'
            '<img src="/r1"><img src="/huge.jpg"><img src="/evil">'
            '<img src="http://10.255.255.1/x.jpg">'
            '<a href="/page2.html">two</a> <a href="/private/secret.html">secret</a>'
            '<a href="http://192.168.1.1/admin">router</a> <a href="https://elsewhere.example/">off</a>'
            "<script>fetch('/script-only.jpg'); document.write('<img src=/scripted.jpg>')</script>"
            "</body></html>"
        )

    def _send(self, code: int, kind: str, body: bytes, *, chunked: bool = False) -> None:
        self.send_response(code)
        self.send_header("Set-Cookie", "session=tracked; Path=/")  # a crawler never sends it back
        self.send_header("Content-Type", kind)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 4096):
                piece = body[start : start + 4096]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        block = b"\xff\xd8\xff\xe0" + b"\0" * (64 * 1024 - 4)
        try:
            for _ in range(HUGE // len(block)):
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass


@dataclass
class Running:
    url: str  # http://127.0.0.1:PORT
    internal: str  # http://127.0.0.2:PORT
    hits: Counter[str]

    def requested(self, path: str, host: str = "127.0.0.1") -> int:
        return self.hits[f"{host}{path}"]


@contextmanager
def site() -> Iterator[Running]:
    Site.hits = Counter()
    Site.times = []
    servers = [ThreadingHTTPServer((host, 0), Site) for host in ("127.0.0.1", "127.0.0.2")]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    main, internal = (f"http://{s.server_address[0]}:{s.server_address[1]}" for s in servers)
    Site.internal = internal
    try:
        yield Running(main, internal, Site.hits)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()

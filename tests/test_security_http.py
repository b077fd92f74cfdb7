"""Security findings of issue 18 that need real HTTP: chunked bodies, gunicorn's own answers
and its log lines. ``partnermatch serve`` (gunicorn, 2 workers) on a SQLite copy of the seed."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import pytest

from tests.api_fixtures import SEED
from tests.server_fixtures import LiveServer, call, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A running server on the seed data and a broker's key (one server for the module)."""
    folder = tmp_path_factory.mktemp("http")
    url = f"sqlite:///{folder / 'seed.db'}"
    run_cli("import", str(SEED), "--db", url)
    broker = run_cli("keys", "create", "--role", "broker", "--db", url).strip()
    live = LiveServer(url, folder / "server.log").start()
    try:
        yield live, broker
    finally:
        live.stop()


def _connect(live: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.port), timeout=30)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one HTTP/1.1 response."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _post_chunked(
    live: LiveServer, key: str, content_type: str, chunks: Iterator[bytes]
) -> tuple[int, dict[str, str], bytes, int, float]:
    """POST /v1/recommendations with a chunked body, sending chunks until the server
    answers or the body ends; also the bytes sent and the seconds it took."""
    sock = _connect(live)
    started = time.monotonic()
    sock.sendall(
        (
            "POST /v1/recommendations HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
    )
    sent = 0
    try:
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # answered before the body ended
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed while we were still sending
    status, headers, body = _read_response(sock)
    sock.close()
    return status, headers, body, sent, time.monotonic() - started


# ---- 2. chunked bodies --------------------------------------------------------------------


def test_a_chunked_30_mib_json_body_is_refused_as_soon_as_it_passes_the_limit(
    server: tuple[LiveServer, str],
) -> None:
    live, broker = server

    def body() -> Iterator[bytes]:
        yield b'{"lead": "unicef", "description": "'
        for _ in range(30 * 16):  # 30 MiB in 64 KiB chunks
            yield b"x" * 65536
        yield b'"}'

    status, headers, raw, sent, seconds = _post_chunked(live, broker, "application/json", body())
    assert status == 413, raw
    assert headers["content-type"] == "application/problem+json"
    assert "larger than 1048576 bytes" in json.loads(raw)["detail"]
    assert sent < 8 * 2**20, f"{sent} bytes were sent before the answer"
    assert seconds < 5


def test_a_chunked_text_body_is_refused_by_type(server: tuple[LiveServer, str]) -> None:
    live, broker = server
    chunks = iter([b'{"lead": ', b'"unicef"}'])
    status, _, raw, _, _ = _post_chunked(live, broker, "text/plain", chunks)
    assert status == 415 and "not text/plain" in json.loads(raw)["detail"]


def test_a_small_chunked_json_body_is_answered(server: tuple[LiveServer, str]) -> None:
    live, broker = server
    body = (SEED / "initiatives" / "i49-edu-quality-brazil.json").read_text()
    chunks = iter([body[:10].encode(), body[10:].encode()])
    status, _, raw, _, _ = _post_chunked(live, broker, "application/json", chunks)
    assert status == 200 and json.loads(raw)["coalitions"]


# ---- 14. gunicorn's own answers are problems with the security headers; no-store ------------


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ],
)
def test_gunicorns_own_errors_are_problems_with_the_security_headers(
    server: tuple[LiveServer, str], request_bytes: bytes, status: int
) -> None:
    live, _ = server
    sock = _connect(live)
    sock.sendall(request_bytes)
    got, headers, raw = _read_response(sock)
    sock.close()
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "default-src 'none'" in headers["content-security-policy"]
    problem = json.loads(raw)
    assert problem["status"] == status and problem["title"] and problem["detail"]


def test_api_answers_are_never_stored_by_caches(server: tuple[LiveServer, str]) -> None:
    live, broker = server
    _, headers, _ = call(live.base, "GET", "/v1/organisations?limit=1", broker)
    assert headers["Cache-Control"] == "no-store"
    _, headers, _ = call(live.base, "GET", "/v1/nothing-here", broker)
    assert headers["Cache-Control"] == "no-store"


# ---- 10. log lines cannot be forged -------------------------------------------------------


def test_control_characters_in_a_request_are_escaped_in_the_log(
    server: tuple[LiveServer, str],
) -> None:
    live, _ = server
    forged = '127.0.0.1 "GET /v1/forged-entry" 200 0 1ms'
    path = "/v1/x%0a" + forged.replace(" ", "%20").replace('"', "%22") + "%0d%00%E2%80%AE%1b[31m"
    sock = _connect(live)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    status, _, _ = _read_response(sock)
    sock.close()
    assert status in (401, 404)
    time.sleep(0.5)  # the access line is written after the answer
    log = live.log_path.read_bytes()
    assert b"/v1/x\\n127.0.0.1" in log  # the newline, escaped, on the request's own line
    assert not any(line.startswith(forged.encode()) for line in log.splitlines())
    for raw in (b"\x00", b"\x1b[31m", "\u202e".encode(), b"\xe2\x80\xae", b"\r"):
        assert raw not in log
    assert b"\\x00" in log and b"\\x1b[31m" in log


def test_the_docs_page_loads_its_assets_from_this_server(server: tuple[LiveServer, str]) -> None:
    live, _ = server
    import urllib.request

    with urllib.request.urlopen(live.base + "/docs", timeout=30) as response:
        html = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assets = [part.split('"')[0] for part in html.split('src="')[1:]]
    assert assets and all(asset.startswith("/docs/") for asset in assets)
    for asset in assets:
        with urllib.request.urlopen(live.base + asset, timeout=30) as response:
            assert response.status == 200 and len(response.read()) > 100

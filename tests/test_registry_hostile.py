"""A hostile registry on 127.0.0.1 (a small real HTTP server): stalls, trickles, loops redirects,
redirects to file://, sends garbage, deeply nested JSON, a wrong digest, a short body or a huge token.
Every case ends within its deadline with one ImagelintError line (or exit 2), never a traceback."""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from imagelint.findings import ImagelintError
from imagelint.image.reference import parse_reference
from imagelint.image.sources.remote import RegistryClient, RegistryOptions, open_registry_image

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


class Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    behaviour = "ok"
    body = b"{}"

    def log_message(self, *args):  # quiet
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):  # noqa: N802
        mode = self.server.behaviour
        if mode == "challenge":  # every request asks for a token at server.realm
            return self.send(401, b'{"errors": [{"code": "UNAUTHORIZED"}]}',
                             {"WWW-Authenticate": f'Bearer realm="{self.server.realm}",service="registry"'})
        if self.path == "/v2/":
            return self.send(200, b"{}")
        if mode == "redirect-loop":
            return self.send(302, b"", {"Location": self.path})
        if mode == "redirect-file":
            return self.send(302, b"", {"Location": "file:///etc/passwd"})
        if mode == "stall":
            time.sleep(30)
            return
        if mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", MANIFEST_TYPE)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        if mode == "short":
            self.send_response(200)
            self.send_header("Content-Type", MANIFEST_TYPE)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b'{"schemaVersion": 2')
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "bad-chunked":
            self.send_response(200)
            self.send_header("Content-Type", MANIFEST_TYPE)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"zz\r\nnot hex\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        headers = {"Content-Type": MANIFEST_TYPE}
        if mode == "wrong-digest":
            headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
        self.send(200, self.server.body, headers)


@pytest.fixture
def registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    server.behaviour = "ok"
    server.body = b"{}"
    server.realm = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def host_of(server) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


def client(server, **options) -> RegistryClient:
    defaults = dict(retries=1, backoff=0.05, max_backoff=0.1, read_timeout=5, connect_timeout=2)
    defaults.update(options)
    return RegistryClient(host_of(server), RegistryOptions(**defaults), credentials=None)


def manifest_error(server, **options) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(ImagelintError) as info:
        client(server, **options).manifest("repo", "latest")
    message = str(info.value)
    assert "\n" not in message
    return message, time.monotonic() - start


def test_redirect_loop_is_one_line(registry):
    registry.behaviour = "redirect-loop"
    message, _ = manifest_error(registry)
    assert "redirect loop" in message


def test_redirect_to_file_url_is_refused(registry):
    registry.behaviour = "redirect-file"
    message, _ = manifest_error(registry)
    assert "unusable URL" in message


def test_a_stalled_registry_hits_the_deadline(registry):
    registry.behaviour = "stall"
    message, seconds = manifest_error(registry, deadline=3)
    assert seconds < 15
    assert "timed out" in message or "deadline" in message


def test_a_trickling_registry_hits_the_overall_deadline(registry):
    """A byte every 0.5 s never trips a 5 s read timeout; the 3 s deadline ends it."""
    registry.behaviour = "trickle"
    message, seconds = manifest_error(registry, deadline=3)
    assert seconds < 10
    assert "deadline" in message or "timed out" in message


def test_a_body_shorter_than_its_content_length_is_one_line(registry):
    registry.behaviour = "short"
    message, _ = manifest_error(registry)
    assert "download failed" in message or "registry" in message


def test_bad_chunked_encoding_is_one_line(registry):
    registry.behaviour = "bad-chunked"
    manifest_error(registry)


def test_wrong_digest_is_a_clear_error(registry):
    registry.behaviour = "wrong-digest"
    registry.body = json.dumps({"schemaVersion": 2}).encode()
    message, _ = manifest_error(registry)
    assert "digest mismatch" in message


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # nested beyond any recursion limit
    b"\x00\xffgarbage",
    b'{"schemaVersion": 2, "layers": "not a list", "config": 5}',
])
def test_garbage_or_deeply_nested_manifests_are_one_line(registry, body):
    registry.body = body
    name = parse_reference(f"docker://{host_of(registry)}/repo:latest").name
    options = RegistryOptions(retries=0, read_timeout=5, deadline=20)
    with pytest.raises(ImagelintError) as info:
        open_registry_image(name, "latest", options=options, credentials=None)
    assert "\n" not in str(info.value)


def test_scan_timeout_option_ends_a_stalled_scan(registry, tmp_path):
    registry.behaviour = "stall"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", "scan", "--timeout", "3",
                        f"docker://{host_of(registry)}/repo:latest"], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("realm, expected", [
    ("", "empty token realm"),
    ("   ", "empty token realm"),
    ("ftp://127.0.0.1/token", "not an http(s) URL (ftp: 'ftp://127.0.0.1/token')"),
    ("/token", "not an http(s) URL (no scheme"),
    ("https://", "not an http(s) URL"),
    ("http://auth.example.com/token", "over plain HTTP on another host (auth.example.com)"),
])
def test_token_realm_messages(registry, realm, expected):
    registry.behaviour = "challenge"
    registry.realm = realm
    message, elapsed = manifest_error(registry)
    assert expected in message, message
    assert "over plain HTTP" not in message or "http://" in realm
    assert elapsed < 20


def test_an_http_realm_on_another_host_is_refused_for_an_insecure_registry_too(registry):
    registry.behaviour = "challenge"
    registry.realm = "http://auth.example.com/token"
    with pytest.raises(ImagelintError, match="another host"):
        RegistryClient(host_of(registry), RegistryOptions(retries=0, read_timeout=5,
                                                          insecure_registries=(host_of(registry),)),
                       credentials=None).manifest("repo", "latest")


def test_scan_names_an_ftp_realm_in_one_line(registry, tmp_path):
    registry.behaviour = "challenge"
    registry.realm = "ftp://127.0.0.1/token"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", "scan", f"docker://{host_of(registry)}/repo:latest"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "not an http(s) URL" in r.stderr and "plain HTTP" not in r.stderr

"""The registry client against a real registry (Debian's docker-registry) on loopback: plain HTTP,
TLS with a private CA, htpasswd basic auth, a Bearer-token flow with a token server of our own;
and against a tiny fault-injecting registry for 429/500s, timeouts, garbage and tampered blobs."""
from __future__ import annotations

import base64
import json
import os
import socket
import stat
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import imagekit as kit
from imagelint.findings import ImagelintError
from imagelint.image.tree import read_image_tree
from imagelint.trust.keep import TRUST_FILES
from imagelint.image.reference import parse_name
from imagelint.image.sources.remote import (
    RegistryOptions,
    docker_credentials,
    open_registry_image,
    parse_challenge,
)
from imagelint.image.sources import open_image
from services import CA_ENV_VARS, require
from test_image_sources import flatten, sample_image

FAST = dict(retries=2, backoff=0.01, max_backoff=0.02, connect_timeout=2, read_timeout=2)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No preset CA variables, no host docker config: trust and credentials come only from the test."""
    for name in CA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def push(layout_ref: str, registry, repo: str, *extra: str, all_images: bool = False) -> str:
    require("skopeo")
    target = f"docker://{registry.host_port}/{repo}"
    tls = ["--dest-cert-dir", str(registry.cert_dir)] if registry.cert_dir else ["--dest-tls-verify=false"]
    cmd = ["skopeo", "copy", "--quiet", *(["--all"] if all_images else []), *tls, *extra, layout_ref, target]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + registry.log
    return f"docker://{registry.host_port}/{repo}"


def docker_config(tmp_path: Path, config: dict) -> None:
    directory = tmp_path / "docker-config"
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))


def auth_entry(user: str, password: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def read_ref(ref: str, **kwargs):
    with open_image(ref, **kwargs) as image:
        return read_image_tree(image, TRUST_FILES), image


# --------------------------------------------------------------------------- real registry

def test_plain_http_on_loopback(tmp_path, registry_factory):
    registry = registry_factory()
    image = sample_image()
    layout = kit.write_oci(tmp_path / "layout", image, "v1")
    ref = push(layout, registry, "team/sample:v1")
    tree, opened = read_ref(ref)
    assert flatten(tree) == flatten(read_ref(layout)[0])
    assert opened.config["User"] == "1000:1000"
    assert [layer.diff_id for layer in opened.layers] == [layer.diff_id for layer in image.layers]
    # skopeo pushes compressed layers as they are and gzips the uncompressed one.
    assert [layer.digest for layer in opened.layers][:2] == [kit.sha256(layer.blob()) for layer in image.layers[:2]]
    # By digest too, and the digest is verified.
    tree, by_digest = read_ref(f"docker://{registry.host_port}/team/sample@{opened.digest}")
    assert by_digest.digest == opened.digest
    with pytest.raises(ImagelintError, match="manifest not found"):
        open_image(f"docker://{registry.host_port}/team/sample:v2")
    with pytest.raises(ImagelintError, match="manifest not found"):
        open_image(f"docker://{registry.host_port}/team/other:v1")


def test_multi_platform_index_from_registry(tmp_path, registry_factory):
    registry = registry_factory()
    amd = kit.Image([kit.Layer().file("arch", "amd64")], architecture="amd64")
    arm = kit.Image([kit.Layer().file("arch", "arm64")], architecture="arm64", variant="v8")
    layout = kit.write_oci(tmp_path / "layout", [amd, arm], "multi", as_index=True)
    ref = push(layout, registry, "multi:v1", all_images=True)
    for platform, arch in (("linux/amd64", "amd64"), ("linux/arm64", "arm64")):
        tree, opened = read_ref(ref, platform=platform)
        assert opened.platform.split("/")[1] == arch
        assert tree.info("/arch").size == len(arch)
    with pytest.raises(ImagelintError, match="no image for platform linux/ppc64le"):
        open_image(ref, platform="linux/ppc64le")


def test_tls_with_private_ca(tmp_path, registry_factory):
    registry = registry_factory(tls=True)
    layout = kit.write_oci(tmp_path / "layout", sample_image(), "v1")
    ref = push(layout, registry, "secure/sample:v1")
    tree, _ = read_ref(ref, ca_file=str(registry.ca_file))
    assert tree.read("/etc/os-release").startswith(b"ID=debian")

    with pytest.raises(ImagelintError) as error:
        open_image(ref)
    message = str(error.value)
    assert message.startswith(f"certificate of registry {registry.host_port} not trusted (")
    assert "unable to get local issuer certificate" in message
    assert "--ca-file" in message and f"/etc/docker/certs.d/{registry.host_port}/ca.crt" in message
    assert "\n" not in message

    # The certs.d convention: <dir>/<host:port>/ca.crt.
    certs_d = tmp_path / "certs.d"
    (certs_d / registry.host_port).mkdir(parents=True)
    (certs_d / registry.host_port / "ca.crt").write_bytes(registry.ca_file.read_bytes())
    options = RegistryOptions(certs_dirs=(str(certs_d),))
    with open_registry_image(parse_name(f"{registry.host_port}/secure/sample:v1"), ref, options=options) as image:
        assert len(image.layers) == 3
    # ~/.docker/certs.d (here $DOCKER_CONFIG/certs.d) is looked at by default.
    user_certs = tmp_path / "docker-config" / "certs.d" / registry.host_port
    user_certs.mkdir(parents=True)
    (user_certs / "ca.crt").write_bytes(registry.ca_file.read_bytes())
    with open_image(ref) as image:
        assert len(image.layers) == 3


def test_tls_with_an_unreadable_ca_file(tmp_path, registry_factory):
    registry = registry_factory(tls=True)
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ImagelintError, match="bogus.pem: cannot load CA certificates"):
        open_image(f"docker://{registry.host_port}/x:v1", ca_file=str(bogus))


def test_insecure_registry_skips_verification_only_when_asked(tmp_path, registry_factory):
    registry = registry_factory(tls=True)
    layout = kit.write_oci(tmp_path / "layout", sample_image(), "v1")
    ref = push(layout, registry, "insecure/sample:v1")
    with open_image(ref, insecure_registries=[registry.host_port]) as image:
        assert len(image.layers) == 3


def test_htpasswd_basic_auth(tmp_path, registry_factory):
    registry = registry_factory(users={"alice": "wonder-land-7"})
    layout = kit.write_oci(tmp_path / "layout", sample_image(), "v1")
    ref = push(layout, registry, "private/sample:v1", "--dest-creds", "alice:wonder-land-7")

    with pytest.raises(ImagelintError, match=rf"registry {registry.host_port} requires a login"):
        open_image(ref)

    docker_config(tmp_path, {"auths": {registry.host_port: auth_entry("alice", "wrong-password-9")}})
    with pytest.raises(ImagelintError) as error:
        open_image(ref)
    assert "refused the credentials" in str(error.value)
    assert "wrong-password-9" not in str(error.value)

    docker_config(tmp_path, {"auths": {f"https://{registry.host_port}": auth_entry("alice", "wonder-land-7")}})
    tree, _ = read_ref(ref)
    assert tree.read("/etc/os-release").startswith(b"ID=debian")


def test_credential_helper(tmp_path, registry_factory, monkeypatch):
    registry = registry_factory(users={"bob": "helper-secret-3"})
    layout = kit.write_oci(tmp_path / "layout", sample_image(), "v1")
    ref = push(layout, registry, "helped/sample:v1", "--dest-creds", "bob:helper-secret-3")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-imagelint-test"
    log = tmp_path / "helper.log"
    helper.write_text(f"""#!/bin/sh
read server
echo "$1 $server" >> {log}
echo '{{"ServerURL": "'$server'", "Username": "bob", "Secret": "helper-secret-3"}}'
""")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    docker_config(tmp_path, {"credHelpers": {registry.host_port: "imagelint-test"}})
    tree, _ = read_ref(ref)
    assert tree.read("/etc/os-release").startswith(b"ID=debian")
    assert log.read_text().split() == ["get", registry.host_port]

    docker_config(tmp_path, {"credsStore": "absent-helper"})
    with pytest.raises(ImagelintError, match="credential helper docker-credential-absent-helper .* is not installed"):
        open_image(ref)


# --------------------------------------------------------------------------- Bearer tokens

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues ES256 JWTs the registry accepts (x5c header chaining to its rootcertbundle),
    to clients presenting the right basic credentials, as Docker Hub's auth service does."""

    def __init__(self, root: Path, users: dict[str, str], service: str = "imagelint-registry",
                 issuer: str = "imagelint-test-issuer"):
        from cryptography.hazmat.primitives import serialization

        pem, self.cert, self.key = kit.make_ca("imagelint token signer")
        self.bundle = root / "token-signer.crt"
        self.bundle.write_bytes(pem)
        self.x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.users, self.service, self.issuer = users, service, issuer
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                from urllib.parse import parse_qs, urlsplit

                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                header = self.headers.get("Authorization", "")
                user = None
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    user = name if server.users.get(name) == password else "!invalid"
                server.requests.append({"user": user, **query})
                if user in (None, "!invalid"):
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.token(user, query.get("scope", "")), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_port}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, user: str, scope: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for item in scope.split():
            kind, name, actions = item.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "ES256", "typ": "JWT", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    @property
    def registry_config(self) -> dict:
        return {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                "rootcertbundle": str(self.bundle)}

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_bearer_token_flow(tmp_path, registry_factory):
    tokens = TokenServer(tmp_path, {"carol": "token-pass-5"})
    try:
        registry = registry_factory(token=tokens.registry_config)
        layout = kit.write_oci(tmp_path / "layout", sample_image(), "v1")
        ref = push(layout, registry, "tokened/sample:v1", "--dest-creds", "carol:token-pass-5")

        with pytest.raises(ImagelintError, match="token server for .* refused access anonymously"):
            open_image(ref)
        docker_config(tmp_path, {"auths": {registry.host_port: auth_entry("carol", "token-pass-5")}})
        tokens.requests.clear()
        tree, opened = read_ref(ref)
        assert tree.read("/etc/os-release").startswith(b"ID=debian")
        # One token for the repository's pull scope, reused for manifest, config and every layer.
        assert tokens.requests == [{"user": "carol", "scope": "repository:tokened/sample:pull",
                                    "service": "imagelint-registry"}]
    finally:
        tokens.stop()


# --------------------------------------------------------------------------- a registry that misbehaves

class FaultyRegistry:
    """Serves an OCI layout over the distribution API, with injectable faults."""

    def __init__(self, layout: Path):
        self.layout = layout
        self.fail_first: dict[str, tuple[int, int]] = {}  # path kind -> (status, times)
        self.always: dict[str, tuple[int, bytes]] = {}
        self.tamper: set[str] = set()  # blob digests served with a flipped byte
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status: int, body: bytes = b"", content_type: str = "application/json", **headers):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                registry.requests.append(self.path)
                kind = "ping" if self.path == "/v2/" else "manifest" if "/manifests/" in self.path else "blob"
                if kind in registry.always:
                    status, body = registry.always[kind]
                    return self.reply(status, body)
                status, times = registry.fail_first.get(kind, (0, 0))
                if times:
                    registry.fail_first[kind] = (status, times - 1)
                    return self.reply(status, b'{"errors": []}', Retry_After="0")
                if kind == "ping":
                    return self.reply(200, b"{}")
                reference = self.path.rsplit("/", 1)[1]
                if kind == "manifest":
                    index = json.loads((registry.layout / "index.json").read_text())
                    for descriptor in index["manifests"]:
                        tag = (descriptor.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                        if reference in (tag, descriptor["digest"]):
                            reference = descriptor["digest"]
                            break
                path = registry.layout / "blobs" / "sha256" / reference.split(":")[-1]
                if not path.exists():
                    return self.reply(404, b'{"errors": [{"code": "BLOB_UNKNOWN"}]}')
                data = path.read_bytes()
                if reference in registry.tamper:  # flip a bit inside the content, or the last byte
                    at = 600 if len(data) > 1024 else len(data) - 1
                    data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
                media_type = json.loads(data).get("mediaType", kit.OCI_MANIFEST) if kind == "manifest" else \
                    "application/octet-stream"
                self.reply(200, data, media_type, Docker_Content_Digest=reference)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def open(self, repo: str = "app:v1", **options):
        return open_registry_image(parse_name(f"{self.host}/{repo}"), f"docker://{self.host}/{repo}",
                                   options=RegistryOptions(**{**FAST, **options}))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def faulty(tmp_path):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image, "v1")
    server = FaultyRegistry(tmp_path / "layout")
    server.image = image
    yield server
    server.stop()


def test_fault_free_baseline(faulty):
    with faulty.open() as image:
        tree = read_image_tree(image, TRUST_FILES)
    assert tree.read("/etc/os-release").startswith(b"ID=debian")


def test_retries_429_and_503_then_succeeds(faulty):
    faulty.fail_first = {"manifest": (429, 2), "blob": (503, 2)}
    with faulty.open() as image:
        tree = read_image_tree(image, TRUST_FILES)
    assert tree.read("/etc/os-release").startswith(b"ID=debian")
    assert sum("/manifests/" in r for r in faulty.requests) == 3


def test_persistent_500s_are_an_error(faulty):
    faulty.always = {"manifest": (500, b"oops")}
    with pytest.raises(ImagelintError, match=r"kept failing \(HTTP 500\) after 3 attempts"):
        faulty.open()
    assert sum("/manifests/" in r for r in faulty.requests) == 3


def test_garbage_manifest_json(faulty):
    faulty.always = {"manifest": (200, b"<html>definitely not json</html>")}
    with pytest.raises(ImagelintError, match="is not valid JSON"):
        faulty.open()


def test_tampered_layer_blob(faulty):
    faulty.tamper = {kit.sha256(faulty.image.layers[2].blob())}  # the uncompressed layer
    with faulty.open() as image, pytest.raises(ImagelintError, match=r"layer 2 .*digest mismatch"):
        read_image_tree(image, TRUST_FILES)


def test_tampered_gzip_layer_blob(faulty):
    faulty.tamper = {kit.sha256(faulty.image.layers[0].blob())}
    with faulty.open() as image, pytest.raises(ImagelintError, match=r"layer 0 .*(digest mismatch|corrupt gzip)"):
        read_image_tree(image, TRUST_FILES)


def test_tampered_config_blob(faulty):
    faulty.tamper = {kit.sha256(faulty.image.config())}
    with pytest.raises(ImagelintError, match="digest mismatch"):
        faulty.open()


def test_missing_layer_blob(faulty):
    (faulty.layout / "blobs" / "sha256" / kit.sha256(faulty.image.layers[2].blob()).split(":")[1]).unlink()
    with faulty.open() as image, pytest.raises(ImagelintError, match="blob not found in registry"):
        read_image_tree(image, TRUST_FILES)


def test_timeouts(tmp_path):
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    host = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        start = time.monotonic()
        with pytest.raises(ImagelintError, match=rf"cannot reach registry {host}|timed out"):
            open_registry_image(parse_name(f"{host}/app:v1"), "x",
                                options=RegistryOptions(**{**FAST, "read_timeout": 0.3, "connect_timeout": 0.3}))
        assert time.monotonic() - start < 10
    finally:
        listener.close()


def test_plain_http_only_for_loopback():
    with pytest.raises(ImagelintError) as error:
        open_registry_image(parse_name("registry.invalid:5000/app:v1"), "x",
                            options=RegistryOptions(**{**FAST, "retries": 0}))
    assert "plain HTTP is only tried for loopback or --insecure-registry registry.invalid:5000" in str(error.value)


# --------------------------------------------------------------------------- units

def test_challenge_parsing():
    scheme, params = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                     'scope="repository:library/alpine:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/alpine:pull"}
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})


def test_docker_config_credentials(tmp_path):
    options = RegistryOptions(docker_config=str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": auth_entry("hubuser", "hubpass"),
        "ghcr.io": {"identitytoken": "refresh-me"},
        "quay.io": {"username": "q", "password": "p"},
    }}))
    assert docker_credentials("registry-1.docker.io", options) == ("hubuser", "hubpass")
    assert docker_credentials("ghcr.io", options) == ("<token>", "refresh-me")
    assert docker_credentials("quay.io", options) == ("q", "p")
    assert docker_credentials("example.com", options) is None
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ImagelintError, match="unreadable docker config"):
        docker_credentials("ghcr.io", options)


def test_bare_name_falls_back_to_the_registry(tmp_path, registry_factory, dockerd, monkeypatch):
    """A bare name goes to the engine only when the engine has it (as Trivy does)."""
    registry = registry_factory()
    layout = kit.write_oci(tmp_path / "layout", sample_image(), "v1")
    push(layout, registry, "fallback/sample:v1")
    bare = f"{registry.host_port}/fallback/sample:v1"
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)  # reachable, but without this image
    with open_image(bare) as image:
        assert image.source == "docker"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")  # no engine at all
    with open_image(bare) as image:
        assert image.source == "docker"
        assert len(read_image_tree(image, TRUST_FILES)) > 10


def test_certificate_for_another_name(tmp_path, registry_factory):
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("registry.other.test")
    cert, key, ca_file = tmp_path / "srv.crt", tmp_path / "srv.key", tmp_path / "ca.crt"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    registry = registry_factory(cert=cert, key=key)
    with pytest.raises(ImagelintError, match=rf"certificate of registry {registry.host_port} does not match its name"):
        open_image(f"docker://{registry.host_port}/x:v1", ca_file=str(ca_file))

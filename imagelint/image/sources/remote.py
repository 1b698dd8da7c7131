"""Registries (`docker://`): a small client for the OCI distribution API: manifests, indexes and blobs, digests verified.

- Auth: the /v2/ challenge decides. Bearer tokens from the WWW-Authenticate realm (anonymous, with
  basic credentials, or an identity token), or HTTP basic. Credentials come from
  $DOCKER_CONFIG/config.json (default ~/.docker): credHelpers, credsStore (docker-credential-*), auths.
- TLS: verified against the system store plus --ca-file plus the certs.d convention
  (/etc/docker/certs.d/HOST/*.crt and ~/.docker/certs.d, client *.cert/*.key pairs too).
  Plain HTTP only for loopback hosts (when they do not speak TLS) or --insecure-registry HOST.
- Robustness: connect/read timeouts, bounded retries with backoff on 429/5xx and connection errors.
Credentials and tokens never appear in messages.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from ...findings import ImagelintError
from ..limits import DEFAULT_LIMITS, Limits
from ..reference import DOCKER_HUB, RegistryName
from ..model import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    OpenedImage,
    load_json,
    parse_platform,
    resolve_descriptor,
)
from ..streams import RawStream, digest_of, parse_digest, verify_bytes

MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
HUB_CONFIG_KEY = "https://index.docker.io/v1/"
CERTS_D = ("/etc/docker/certs.d", "/etc/containers/certs.d")
USER_AGENT = "imagelint"
MAX_TOKEN_BYTES = 1 << 20


@dataclass(frozen=True)
class RegistryOptions:
    ca_file: str | None = None
    insecure_registries: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4  # extra attempts after the first, for 429/5xx and connection errors
    # Seconds for everything read from this registry for one image (manifests, config, layers):
    # a server trickling a byte every few seconds never trips the per-read timeout, this ends it.
    deadline: float = 600.0
    max_redirects: int = 10
    backoff: float = 0.5  # seconds, doubled each attempt, capped at max_backoff
    max_backoff: float = 8.0
    docker_config: str | None = None  # directory holding config.json; default $DOCKER_CONFIG or ~/.docker
    # Default: /etc/docker/certs.d, /etc/containers/certs.d and $DOCKER_CONFIG/certs.d (~/.docker/certs.d).
    certs_dirs: tuple[str, ...] | None = None


def is_loopback(host: str) -> bool:
    name = _hostname(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# --------------------------------------------------------------------------- credentials

def _config_dir(options: RegistryOptions) -> Path:
    return Path(options.docker_config or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _config_keys(host: str) -> list[str]:
    if host == DOCKER_HUB:
        return [HUB_CONFIG_KEY, "index.docker.io", "docker.io", "registry-1.docker.io", "https://index.docker.io/v1"]
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]


def _from_helper(helper: str, server: str) -> tuple[str, str] | None:
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run([program, "get"], input=server, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise ImagelintError(f"credential helper {program} (from docker config) is not installed") from None
    except subprocess.TimeoutExpired:
        raise ImagelintError(f"credential helper {program} did not answer within 30 s") from None
    if result.returncode != 0:
        if "not found" in (result.stdout + result.stderr).lower():
            return None
        raise ImagelintError(f"credential helper {program} failed (exit {result.returncode})")
    try:
        answer = json.loads(result.stdout)
        return str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise ImagelintError(f"credential helper {program} gave an unreadable answer") from None


def docker_credentials(host: str, options: RegistryOptions = RegistryOptions()) -> tuple[str, str] | None:
    """(username, secret) for a registry as the docker CLI would find them; username "<token>"
    means the secret is an identity (refresh) token."""
    path = _config_dir(options) / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise ImagelintError(f"{path}: unreadable docker config") from None
    if not isinstance(config, dict):
        return None
    keys = _config_keys(host)
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers:
            return _from_helper(str(helpers[key]), key)
    if config.get("credsStore"):
        found = _from_helper(str(config["credsStore"]), keys[0])
        if found:
            return found
    auths = config.get("auths") or {}
    for key in keys:
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return "<token>", str(entry["identitytoken"])
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ImagelintError(f"{path}: malformed auth entry for {host}") from None
            return user, password
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password") or "")
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """'Bearer realm="https://auth",service="reg",scope="x"' -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i = 0
    while i < len(rest):
        while i < len(rest) and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq == -1:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < len(rest) and rest[i] == '"':
            end = i + 1
            value = []
            while end < len(rest) and rest[end] != '"':
                if rest[end] == "\\" and end + 1 < len(rest):
                    end += 1
                value.append(rest[end])
                end += 1
            params[key] = "".join(value)
            i = end + 1
        else:
            end = rest.find(",", i)
            end = len(rest) if end == -1 else end
            params[key] = rest[i:end].strip()
            i = end + 1
    return scheme.lower(), params


# --------------------------------------------------------------------------- TLS

def _certs_dirs(options: RegistryOptions) -> list[Path]:
    if options.certs_dirs is not None:
        return [Path(d) for d in options.certs_dirs]
    return [*(Path(d) for d in CERTS_D), _config_dir(options) / "certs.d"]


def _ssl_context(host: str, options: RegistryOptions) -> tuple[ssl.SSLContext, list[str]]:
    """System store + --ca-file + certs.d CAs (and client certificates) for this host."""
    context = ssl.create_default_context()
    sources = []
    extra = [options.ca_file] if options.ca_file else []
    for base in _certs_dirs(options):
        directory = base / host
        if directory.is_dir():
            extra += [str(p) for p in sorted(directory.glob("*.crt"))]
            for cert in sorted(directory.glob("*.cert")):
                key = cert.with_suffix(".key")
                if key.exists():
                    try:
                        context.load_cert_chain(str(cert), str(key))
                    except (OSError, ssl.SSLError) as exc:
                        raise ImagelintError(f"{cert}: cannot load client certificate ({exc})") from None
    for path in extra:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ImagelintError(f"{path}: cannot load CA certificates ({getattr(exc, 'strerror', None) or exc})",
                                 path=path) from None
        sources.append(path)
    return context, sources


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        stack.extend([current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return None


def _tls_message(host: str, failure: ssl.SSLError, sources: list[str]) -> str:
    fix = (f"pass --ca-file or put the CA in /etc/docker/certs.d/{host}/ca.crt")
    if isinstance(failure, ssl.SSLCertVerificationError):
        reason = failure.verify_message or str(failure.reason or failure)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return f"certificate of registry {host} does not match its name ({reason}): use the name it was issued for"
        if "expired" in reason.lower():
            return f"certificate of registry {host} has expired ({reason}): renew the registry certificate"
        tried = f"; tried the system store and {', '.join(sources)}" if sources else ""
        return f"certificate of registry {host} not trusted ({reason}{tried}): {fix}"
    return f"TLS handshake with registry {host} failed ({failure.reason or failure}): check the registry's TLS setup"


# --------------------------------------------------------------------------- client

class _ResponseStream(RawStream):
    """A blob body: network errors while streaming become one-line ImagelintErrors."""

    def __init__(self, response, what: str, client: "RegistryClient | None" = None, declared: int | None = None):
        self.response, self.what, self.client = response, what, client
        self.declared = declared  # the descriptor's size: more bytes than that is an error
        self.received = 0

    def _read(self, size: int) -> bytes:
        import requests
        import urllib3

        if self.client is not None:
            self.client.check_deadline(self.what)
        try:
            # read1: at most one receive, so a trickling server is seen by the deadline check above.
            data = self.response.raw.read1(size, decode_content=False)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise ImagelintError(f"{self.what}: download failed ({exc.__class__.__name__}: {str(exc)[:120]})") from None
        self.received += len(data)
        if self.declared is not None and self.received > self.declared:
            raise ImagelintError(f"{self.what}: the registry sent more than the {self.declared} bytes the manifest declares")
        return data

    def close(self) -> None:
        self.response.close()
        super().close()


class RegistryClient:
    def __init__(self, host: str, options: RegistryOptions = RegistryOptions(),
                 credentials: tuple[str, str] | None | bool = True):
        import requests
        from requests.adapters import HTTPAdapter

        self.host = host
        self.options = options
        self.insecure = host in options.insecure_registries or _hostname(host) in options.insecure_registries
        self._credentials = credentials
        self.session = requests.Session()
        self.session.max_redirects = options.max_redirects
        self.deadline_at = time.monotonic() + options.deadline
        self.session.trust_env = False  # CA variables of this process must not replace our trust setup
        self.session.headers["User-Agent"] = USER_AGENT
        context, self.ca_sources = _ssl_context(host, options)
        if self.insecure:  # the user asked for it (--insecure-registry): no warning per request
            import urllib3

            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

        class TLSAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                kwargs["ssl_context"] = context
                return super().init_poolmanager(*args, **kwargs)

            def proxy_manager_for(self, *args, **kwargs):
                kwargs["ssl_context"] = context
                return super().proxy_manager_for(*args, **kwargs)

        self.session.mount("https://", TLSAdapter(pool_maxsize=16))
        self.session.mount("http://", HTTPAdapter(pool_maxsize=16))
        self.scheme: str | None = None
        self.challenge: tuple[str, dict[str, str]] | None = None
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()

    # ---- plumbing

    @property
    def timeout(self) -> tuple[float, float]:
        left = max(self.deadline_at - time.monotonic(), 0.001)
        return min(self.options.connect_timeout, left), min(self.options.read_timeout, left)

    def check_deadline(self, what: str) -> None:
        if time.monotonic() > self.deadline_at:
            raise ImagelintError(f"{what}: registry {self.host} did not finish within the "
                                 f"{self.options.deadline:g} s deadline (see scan --timeout)")

    def credentials(self) -> tuple[str, str] | None:
        if self._credentials is True:
            self._credentials = docker_credentials(self.host, self.options)
        return self._credentials or None

    def _proxies(self, url: str) -> dict[str, str]:
        import requests

        return {} if is_loopback(self.host) else requests.utils.get_environ_proxies(url)

    def _send(self, method: str, url: str, headers: dict[str, str], stream: bool = False, **kwargs):
        """One request with retries on 429/5xx and connection errors; TLS errors explained."""
        import requests

        attempt = 0
        while True:
            self.check_deadline(f"{method} {_shown_url(url)}")
            try:
                response = self.session.request(method, url, headers=headers, stream=stream, timeout=self.timeout,
                                                 proxies=self._proxies(url), verify=not self.insecure, **kwargs)
            except requests.TooManyRedirects:
                raise ImagelintError(f"registry {self.host}: more than {self.options.max_redirects} redirects "
                                     f"for {_shown_url(url)} (a redirect loop)") from None
            except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
                    requests.exceptions.MissingSchema) as exc:
                raise ImagelintError(f"registry {self.host}: redirected to an unusable URL for {_shown_url(url)} "
                                     f"({exc.__class__.__name__})") from None
            except requests.exceptions.SSLError as exc:
                failure = _tls_failure(exc)
                raise ImagelintError(_tls_message(self.host, failure, self.ca_sources) if failure
                                     else f"TLS error talking to registry {self.host} ({exc})") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.options.retries:
                    kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                    raise ImagelintError(f"registry {self.host}: {kind} after {attempt + 1} attempts "
                                         f"({_reason(exc)})") from None
                self._sleep(attempt, None)
                attempt += 1
                continue
            except requests.RequestException as exc:  # bad chunked encoding, a cut body, ...
                raise ImagelintError(f"registry {self.host}: {exc.__class__.__name__} for {_shown_url(url)} "
                                     f"({_reason(exc)})") from None
            if response.status_code in RETRY_STATUSES and attempt < self.options.retries:
                retry_after = response.headers.get("Retry-After")
                response.close()
                self._sleep(attempt, retry_after)
                attempt += 1
                continue
            return response

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.options.backoff * (2 ** attempt), self.options.max_backoff)
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), self.options.max_backoff)
        left = self.deadline_at - time.monotonic()
        time.sleep(max(min(delay * (0.75 + random.random() / 2), left), 0))

    def _ping(self) -> None:
        """Pick https or (loopback / --insecure-registry only) http, and learn the auth challenge."""
        import requests

        if self.scheme is not None:
            return
        schemes = ["https"]
        if self.insecure or is_loopback(self.host):
            schemes.append("http")
        last_error: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.host}/v2/"
            try:
                response = self.session.get(url, timeout=self.timeout, proxies=self._proxies(url),
                                            verify=not self.insecure)
            except requests.exceptions.SSLError as exc:
                failure = _tls_failure(exc)
                if isinstance(failure, ssl.SSLCertVerificationError) or scheme == schemes[-1]:
                    raise ImagelintError(_tls_message(self.host, failure, self.ca_sources) if failure
                                         else f"TLS error talking to registry {self.host}") from None
                last_error = exc  # the server does not speak TLS: try plain HTTP
                continue
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_error = exc
                continue
            with response:
                if response.status_code == 400 and scheme == "http" and b"HTTPS" in response.content:
                    continue
                if response.status_code == 401:
                    self.challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
                elif response.status_code >= 500 or response.status_code == 404:
                    # Retry 5xx on the real requests below; a 404 means no registry API here.
                    if response.status_code == 404:
                        raise ImagelintError(f"{self.host} does not serve the registry API (GET /v2/ gave 404)")
            self.scheme = scheme
            return
        hint = ("" if len(schemes) > 1
                else f" (plain HTTP is only tried for loopback or --insecure-registry {self.host})")
        raise ImagelintError(f"cannot reach registry {self.host} ({_reason(last_error)}){hint}")

    def _authorization(self, repository: str, refresh: bool = False) -> dict[str, str]:
        if self.challenge is None:
            return {}
        scheme, params = self.challenge
        credentials = self.credentials()
        if scheme == "basic":
            if credentials is None or credentials[0] == "<token>":
                raise ImagelintError(f"registry {self.host} requires a login: run `docker login {self.host}` "
                                     "or add credentials to ~/.docker/config.json")
            raw = f"{credentials[0]}:{credentials[1]}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if scheme != "bearer" or "realm" not in params:
            raise ImagelintError(f"registry {self.host} asks for unsupported authentication {scheme!r}")
        scope = f"repository:{repository}:pull"
        with self.lock:
            if refresh or scope not in self.tokens:
                self.tokens[scope] = self._fetch_token(params, scope, credentials)
            return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def _check_realm(self, realm: str) -> None:
        """The token realm of a Bearer challenge must be an https URL (http only on loopback, or on
        the registry's own host when it is an insecure registry): credentials go there."""
        if not realm:
            raise ImagelintError(f"registry {self.host} sends a Bearer challenge with an empty token realm: "
                                 "there is no token server to log in to")
        try:
            parsed = urllib.parse.urlsplit(realm)
            hostname = parsed.hostname
        except ValueError:
            parsed, hostname = None, None
        shown = realm if len(realm) <= 80 else realm[:77] + "..."
        if parsed is None or parsed.scheme.lower() not in ("https", "http") or not hostname:
            scheme = parsed.scheme if parsed is not None and parsed.scheme else "no scheme"
            raise ImagelintError(f"registry {self.host} names a token realm that is not an http(s) URL "
                                 f"({scheme}: {shown!r}); refusing")
        if parsed.scheme.lower() == "http" and not is_loopback(parsed.netloc):
            same_host = hostname == urllib.parse.urlsplit(f"//{self.host}").hostname
            if not (same_host and self.insecure):
                where = "on its own host" if same_host else f"on another host ({parsed.netloc})"
                raise ImagelintError(f"registry {self.host} sends its token realm over plain HTTP {where}; "
                                     "refusing to send credentials unencrypted")

    def _fetch_token(self, params: dict[str, str], scope: str, credentials: tuple[str, str] | None) -> str:
        realm = params["realm"].strip()
        self._check_realm(realm)
        parsed = urllib.parse.urlsplit(realm)
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        headers: dict[str, str] = {}
        if credentials and credentials[0] == "<token>":
            response = self._send("POST", realm, headers, stream=True, data={
                **query, "grant_type": "refresh_token", "refresh_token": credentials[1], "client_id": USER_AGENT})
        else:
            if credentials:
                raw = f"{credentials[0]}:{credentials[1]}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            response = self._send("GET", realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query),
                                  headers, stream=True)
        with response:
            if response.status_code in (401, 403):
                who = "with the credentials from docker config" if credentials else "anonymously"
                raise ImagelintError(f"token server for {self.host} refused access {who} "
                                     f"(HTTP {response.status_code}): check `docker login {self.host}`")
            if response.status_code != 200:
                raise ImagelintError(f"token server for {self.host} answered HTTP {response.status_code}")
            # Read at most 1 MiB: a 300 MB answer must not be held in memory.
            body = self._read_body(response, MAX_TOKEN_BYTES + 1, f"token answer from {parsed.netloc}")
            if len(body) > MAX_TOKEN_BYTES:
                raise ImagelintError(f"token server for {self.host} answered more than {MAX_TOKEN_BYTES} bytes")
            answer = load_json(body, f"token answer from {parsed.netloc}")
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ImagelintError(f"token server for {self.host} answered without a token")
        return token

    def _get(self, repository: str, path: str, headers: dict[str, str], stream: bool = False):
        self._ping()
        url = f"{self.scheme}://{self.host}/v2/{repository}/{path}"
        response = self._send("GET", url, {**headers, **self._authorization(repository)}, stream=stream)
        if response.status_code == 401:
            response.close()
            challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge[0]:
                self.challenge = challenge
            response = self._send("GET", url, {**headers, **self._authorization(repository, refresh=True)},
                                  stream=stream)
            if response.status_code == 401:
                response.close()
                raise ImagelintError(f"registry {self.host} refused the credentials for {repository} (HTTP 401): "
                                     f"check `docker login {self.host}`")
        return response

    # ---- API

    def manifest(self, repository: str, reference: str, limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest or index; a digest reference is verified."""
        separator = "@" if ":" in reference else ":"
        what = f"{self.host}/{repository}{separator}{reference}"
        with self._get(repository, f"manifests/{reference}", {"Accept": MANIFEST_ACCEPT}, stream=True) as response:
            self._check_status(response, what, "manifest")
            body = self._read_body(response, limits.max_metadata_bytes + 1, what)
            if len(body) > limits.max_metadata_bytes:
                raise ImagelintError(f"{what}: manifest larger than {limits.max_metadata_bytes} bytes")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            header_digest = response.headers.get("Docker-Content-Digest")
        digest = digest_of(body)
        if reference.startswith("sha"):
            verify_bytes(body, reference, f"{what}: manifest")
            digest = reference
        elif header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise ImagelintError(f"{what}: manifest digest mismatch (registry says {header_digest}, got {digest})")
        return body, media_type, digest

    def _read_body(self, response, limit: int, what: str) -> bytes:
        """At most `limit` bytes of a body, one receive at a time, within the deadline; a body shorter
        than its Content-Length or badly chunked is a one-line error."""
        import requests
        import urllib3

        parts, size = [], 0
        try:
            while size < limit:
                self.check_deadline(what)
                chunk = response.raw.read1(min(limit - size, 1 << 16), decode_content=True)
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise ImagelintError(f"{what}: download failed ({exc.__class__.__name__}: {str(exc)[:120]})") from None
        return b"".join(parts)

    def blob(self, repository: str, digest: str, limit: int) -> bytes:
        with self.open_blob(repository, digest) as stream:
            parts, size = [], 0
            while size <= limit and (chunk := stream.read(min(limit + 1 - size, 1 << 20))):
                parts.append(chunk)  # reads are short (one receive each): loop to the limit
                size += len(chunk)
            data = b"".join(parts)
        if len(data) > limit:
            raise ImagelintError(f"{self.host}/{repository}: blob {digest} larger than {limit} bytes")
        return verify_bytes(data, digest, f"{self.host}/{repository}: blob {digest}")

    def open_blob(self, repository: str, digest: str, size: int | None = None) -> BinaryIO:
        """The blob's bytes as stored (compressed layers stay compressed); not verified here."""
        parse_digest(digest, f"{self.host}/{repository}")
        response = self._get(repository, f"blobs/{digest}", {}, stream=True)
        try:
            self._check_status(response, f"{self.host}/{repository}@{digest}", "blob")
        except BaseException:
            response.close()
            raise
        return _ResponseStream(response, f"{self.host}/{repository}: blob {digest}", self, size)

    # ---- listing (fleet scans)

    def _list(self, path: str, scope_repository: str | None, key: str, what: str, max_items: int) -> list[str]:
        """Every name of a paginated list (`_catalog`, `tags/list`), following `Link: <...>; rel="next"`
        as the distribution spec says, up to `max_items`."""
        self._ping()
        url = f"{self.scheme}://{self.host}/v2/{path}"
        names: list[str] = []
        seen_urls: set[str] = set()
        while url and url not in seen_urls:
            seen_urls.add(url)
            auth = self._authorization(scope_repository) if scope_repository else self._catalog_authorization()
            with self._send("GET", url, {"Accept": "application/json", **auth}, stream=False) as response:
                if response.status_code == 401:
                    raise ImagelintError(f"registry {self.host} refused to list {what} (HTTP 401): check "
                                         f"`docker login {self.host}`")
                self._check_status(response, f"{self.host}: {what}", what)
                document = load_json(response.content[:DEFAULT_LIMITS.max_metadata_bytes], f"{what} of {self.host}")
                link = response.headers.get("Link", "")
            values = document.get(key) if isinstance(document, dict) else None
            if values is None:
                values = []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ImagelintError(f"registry {self.host}: {what} is not a list of names")
            names.extend(values)
            if len(names) > max_items:
                raise ImagelintError(f"registry {self.host}: more than {max_items} {what}; narrow it with a glob")
            url = _next_link(link, f"{self.scheme}://{self.host}")
        return names

    def _catalog_authorization(self) -> dict[str, str]:
        if self.challenge is None:
            return {}
        if self.challenge[0] != "bearer":
            return self._authorization("")  # basic: the same credentials for every path
        scope = "registry:catalog:*"
        with self.lock:
            if scope not in self.tokens:
                self.tokens[scope] = self._fetch_token(self.challenge[1], scope, self.credentials())
            return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def catalog(self, max_items: int = 100_000) -> list[str]:
        return self._list("_catalog?n=1000", None, "repositories", "repositories", max_items)

    def tags(self, repository: str, max_items: int = 100_000) -> list[str]:
        return self._list(f"{repository}/tags/list?n=1000", repository, "tags", f"tags of {repository}", max_items)

    def _check_status(self, response, what: str, kind: str) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 404:
            raise ImagelintError(f"{what}: {kind} not found in registry {self.host}")
        if status == 403:
            raise ImagelintError(f"{what}: access to the {kind} denied by registry {self.host} (HTTP 403)")
        if status in RETRY_STATUSES:
            raise ImagelintError(f"{what}: registry {self.host} kept failing (HTTP {status}) after "
                                 f"{self.options.retries + 1} attempts")
        raise ImagelintError(f"{what}: registry {self.host} answered HTTP {status} for the {kind}")


def _next_link(header: str, base: str) -> str | None:
    """The rel="next" target of a Link header (RFC 8288), made absolute against the registry."""
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            target = part.split(";")[0].strip().strip("<>")
            if target.startswith("/"):
                return base + target
            if target.startswith(base + "/"):
                return target
            return None  # a next page on another host: not followed
    return None
def _shown_url(url: str) -> str:
    """A URL without its query (token requests carry scopes and may carry secrets there)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host",
                   "Temporary failure in name resolution", "Read timed out", "Connection reset"):
        if marker in text:
            return marker
    return exc.__class__.__name__


def open_registry_image(name: RegistryName, reference: str, *, platform: str | None = None,
                        ca_file: str | None = None, insecure_registries: tuple[str, ...] = (),
                        limits: Limits = DEFAULT_LIMITS, options: RegistryOptions | None = None,
                        credentials: tuple[str, str] | None | bool = True, clients: dict | None = None) -> OpenedImage:
    """An image from a registry: manifest (and index, by platform) and config now, layers streamed later.
    `clients` (registry, options) -> client, kept by the caller across images; else a client per image."""
    options = options or RegistryOptions(ca_file=ca_file, insecure_registries=tuple(insecure_registries))
    if platform:
        parse_platform(platform)
    shared = clients is not None and credentials is True
    client = clients.get((name.registry, options)) if shared else None
    if client is None:
        client = RegistryClient(name.registry, options, credentials)
        if shared:
            clients[(name.registry, options)] = client
    else:
        client.deadline_at = time.monotonic() + options.deadline  # the deadline is per image, not per run
    body, media_type, digest = client.manifest(name.repository, name.reference, limits)
    cache = {digest: body}
    where = str(name)

    def read_json(descriptor: dict, what: str) -> tuple[dict, bytes]:
        child = descriptor.get("digest")
        if not isinstance(child, str):
            raise ImagelintError(f"{what}: descriptor without a digest")
        if child in cache:
            data = cache[child]
        elif descriptor.get("mediaType") in INDEX_TYPES + MANIFEST_TYPES:
            data, _, _ = client.manifest(name.repository, child, limits)
        else:
            data = client.blob(name.repository, child, limits.max_metadata_bytes)
        document = load_json(data, f"{what} from {name.registry}")
        if not isinstance(document, dict):
            raise ImagelintError(f"{what} from {name.registry} is not a JSON object")
        return document, data

    def layer_opener(descriptor: dict, index: int) -> tuple[Callable[[], BinaryIO], str]:
        blob = descriptor["digest"]
        size = descriptor.get("size")
        size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
        return (lambda: client.open_blob(name.repository, blob, size)), f"{where}@{blob}"

    top = {"digest": digest, "mediaType": media_type or None}
    opened = resolve_descriptor(top, reference, platform, read_json, layer_opener, where)
    opened.source = "docker"
    opened.concurrency = 3
    if not shared:
        opened._closers.append(client.session.close)
    return opened

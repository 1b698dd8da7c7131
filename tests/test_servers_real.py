"""The server-side predictions against the real servers: Debian's nginx 1.22, apache2 2.4 and
haproxy 2.6 serve each planted configuration (tests/server_scenarios.py) from a temp directory on
127.0.0.1 and a random port. What imagelint predicts for the same files in an image must be what
happens: a configuration it calls fatal (IL801, IL804) stops the server, with the words it
quotes; otherwise the server starts and `openssl s_client -verify_return_error -CAfile root`
fails with the code the findings predict (or succeeds when they are quiet)."""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from server_scenarios import Scenario
from services import _free_port, _stop_pid, clean_env, require
from test_servers import PKI, SCENARIOS, image_of, served
from test_scan_support import scan

pytestmark = [pytest.mark.slow, pytest.mark.services]

FATAL_RULES = {"IL801", "IL804"}
# What `openssl s_client` reports first for a finding (its order: chain, host name, dates).
VERIFY_CODE = (("IL805", 20), ("IL806", 62), ("IL802", 10))
BINARIES = {"nginx": "nginx", "apache": "apache2", "haproxy": "haproxy", "caddy": "caddy",
            "tomcat": "/usr/share/tomcat10/bin/catalina.sh"}


def write_root(scenario: Scenario, root: Path, port: int) -> None:
    for path, data in scenario.rendered(str(root), port).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    for link, target in scenario.links.items():
        path = Path(link.replace("{root}", str(root)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)


def command(scenario: Scenario, root: Path) -> list[str]:
    if scenario.server == "nginx":
        return ["nginx", "-p", f"{root}/", "-e", f"{root}/var/log/nginx/error.log",
                "-c", f"{root}/etc/nginx/nginx.conf", "-g", "daemon off;"]
    if scenario.server == "apache":
        return ["apache2", "-d", f"{root}/etc/apache2", "-f", f"{root}/etc/apache2/apache2.conf",
                "-C", f"DefaultRuntimeDir {root}/run", "-DFOREGROUND"]
    if scenario.server == "tomcat":
        return ["/usr/share/tomcat10/bin/catalina.sh", "run"]
    if scenario.server == "caddy":
        return ["caddy", "run", "--config", f"{root}/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
    return ["haproxy", "-db", "-f", f"{root}/etc/haproxy/haproxy.cfg"]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def logs(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*.log") if p.is_file())


def s_client_code(port: int, sni: str, ca_file: Path) -> tuple[int, str]:
    """OpenSSL's verify result for one handshake (0: verified)."""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", sni, "-verify_hostname", sni,
         "-verify_return_error", "-CAfile", str(ca_file)],
        input="", capture_output=True, text=True, timeout=20, env=clean_env())
    output = result.stdout + result.stderr
    match = re.search(r"verify error:num=(\d+)", output) or re.search(r"Verify return code: (\d+)", output)
    return (int(match.group(1)) if match else -1), output


@contextlib.contextmanager
def serving(scenario: Scenario, tmp_path: Path):
    """Run the scenario's server; yields (port, None) once it listens, or (None, what it printed)."""
    port = _free_port()
    root = tmp_path / "root"
    write_root(scenario, root, port)
    out = tmp_path / "server.out"
    with open(out, "wb") as sink:
        # Caddy keeps its state under $HOME / XDG dirs: inside the root too.
        env = clean_env(HOME=str(root), XDG_DATA_HOME=f"{root}/var/lib/caddy", XDG_CONFIG_HOME=f"{root}/etc/caddy",
                        CATALINA_HOME="/usr/share/tomcat10", CATALINA_BASE=f"{root}/var/lib/tomcat10",
                        CATALINA_OUT=f"{root}/var/lib/tomcat10/logs/catalina.out")
        proc = subprocess.Popen(command(scenario, root), stdout=sink, stderr=subprocess.STDOUT, cwd=root,
                                env=env, start_new_session=True)
    def ready() -> bool:
        # httpd binds its ports before mod_ssl loads the certificates: it is up once it says so.
        return listening(port) and (scenario.server != "apache" or "AH00489" in logs(root))

    def gave_up() -> bool:
        # Tomcat keeps running when a connector fails to start: its startup line says it is done.
        return scenario.server == "tomcat" and "Server startup in" in out.read_text(errors="replace") \
            and not listening(port)

    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and proc.poll() is None and not ready() and not gave_up():
            time.sleep(0.05)
        if proc.poll() is not None or not ready():
            time.sleep(0.3)  # let it finish writing its error
            yield None, out.read_text(errors="replace") + logs(root)
        else:
            yield port, None
    finally:
        _stop_pid(proc)
        for pid_file in (p for p in root.rglob("*.pid") if p.is_file()):
            try:  # a daemonised leftover (never expected): stop it by its PID
                pid = int(pid_file.read_text().strip() or 0)
            except ValueError:
                continue
            if pid and pid != proc.pid and _alive(pid):
                _stop_pid(None, pid)


def run_server(scenario: Scenario, tmp_path: Path) -> tuple[bool, str, int | None]:
    """(started, what it printed, s_client's verify code when it started)."""
    ca_file = tmp_path / "root-ca.pem"
    ca_file.write_bytes(PKI.root.pem)
    with serving(scenario, tmp_path) as (port, output):
        if port is None:
            return False, output, None
        code, text = s_client_code(port, scenario.sni, ca_file)
        time.sleep(0.2)
        return True, text + (tmp_path / "server.out").read_text(errors="replace"), code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.server}-{s.name}" for s in SCENARIOS])
def test_real_server_agrees_with_the_prediction(tmp_path, scenario):
    require(BINARIES[scenario.server], "openssl")
    predicted = served(scan(image_of(tmp_path, scenario)))
    started, output, code = run_server(scenario, tmp_path)
    fatal = {rule for rule, _ in predicted} & FATAL_RULES
    if scenario.handshake_fails:
        # Tomcat (JSSE) keeps its port open when its TLS connector cannot work: every handshake fails
        # (observed with tomcat10 10.1 on Debian 12: a key that is not the certificate's, a missing file).
        assert started and fatal and scenario.refusal in output, (sorted(predicted), code, output[-2000:])
        assert "no peer certificate available" in output or "bad signature" in output, output[-2000:]
        return
    assert started is not bool(fatal), (f"predicted {sorted(predicted)}, but the server "
                                        f"{'started' if started else 'refused to start'}:\n{output[-3000:]}")
    if not started:
        assert scenario.refusal in output, output[-3000:]
        # The words imagelint quotes are the server's own.
        messages = [f.message for f in scan(image_of(tmp_path / "again", scenario)) if f.rule in FATAL_RULES]
        assert any(scenario.refusal in m for m in messages) or scenario.server == "apache", messages
        return
    expected_code = next((c for rule, c in VERIFY_CODE if rule in {r for r, _ in predicted}), 0)
    if scenario.verify_code is not None:
        assert code == expected_code == scenario.verify_code, (sorted(predicted), code, output[-2000:])


def test_trust_connect_names_the_file_the_server_image_serves(tmp_path):
    """billing (a Debian client trusting the root) -> a real nginx serving only its leaf. Given the
    server's image, `trust --connect` says which file of it to fix."""
    from imagelint.commands.trust import run_trust
    from imagelint.trust.model import TrustModel
    from test_trust_stores import build_root, debian_files

    require("nginx")
    scenario = next(s for s in SCENARIOS if (s.server, s.name) == ("nginx", "leaf-only"))
    server_image = image_of(tmp_path / "image", scenario)
    client = TrustModel(build_root(tmp_path / "client", debian_files(PKI, PKI.root.pem)), {})
    with serving(scenario, tmp_path) as (port, output):
        assert port is not None, output
        code, out = run_trust("host", connect=f"127.0.0.1:{port}", host="localhost", fmt="json", model=client,
                              server_image=server_image)
        _, text = run_trust("host", connect=f"127.0.0.1:{port}", host="localhost", model=client,
                            server_image=server_image)
    doc = json.loads(out)
    (verdict,) = doc["verdicts"]
    assert code == 1 and verdict["reasons"] == ["missing-intermediate", "untrusted-root"]
    (endpoint,) = doc["server"]["endpoints"]
    assert doc["server"]["matched_by"] == "certificate"
    assert (endpoint["server"], endpoint["cert_file"]) == ("nginx", "/etc/nginx/tls/server.pem")
    assert endpoint["config"] == "/etc/nginx/sites-enabled/orders"
    assert [p["category"] for p in doc["server"]["problems"]] == ["cert-chain-incomplete"]
    assert "/etc/nginx/tls/server.pem (nginx, /etc/nginx/sites-enabled/orders:4) is the file to fix" in verdict["fix"]
    assert verdict["causes"][0]["file"] == "/etc/nginx/tls/server.pem"
    assert "served by " + server_image + ": nginx /etc/nginx/tls/server.pem" in text


CONFIG_TESTS = {
    "nginx": lambda root: ["nginx", "-t", "-p", f"{root}/", "-e", f"{root}/var/log/nginx/error.log",
                           "-c", f"{root}/etc/nginx/nginx.conf"],
    "apache": lambda root: ["apache2", "-t", "-d", f"{root}/etc/apache2", "-f", f"{root}/etc/apache2/apache2.conf",
                            "-C", f"DefaultRuntimeDir {root}/run"],
    "haproxy": lambda root: ["haproxy", "-c", "-f", f"{root}/etc/haproxy/haproxy.cfg"],
}


@pytest.mark.parametrize("server, name", [
    ("nginx", "leaf-only"), ("nginx", "incident-expired-1-day"), ("haproxy", "leaf-only"), ("haproxy", "expired"),
    ("apache", "key-mismatch"), ("apache", "leaf-only"),
])
def test_config_tests_pass_what_imagelint_reports(tmp_path, server, name):
    """`nginx -t`, `haproxy -c` and `apache2 -t` accept these broken setups (apache2 even a key that
    is not the certificate's): the static check of the named files is the only check before deploy."""
    require(BINARIES[server])
    scenario = next(s for s in SCENARIOS if (s.server, s.name) == (server, name))
    assert scenario.expect, "a scenario imagelint reports"
    root = tmp_path / "root"
    write_root(scenario, root, _free_port())
    result = subprocess.run(CONFIG_TESTS[server](root), capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

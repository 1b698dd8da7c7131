"""Image checks IL701-IL711 on fixture images written by tests/imagekit.py: each planted problem is
found (with its layer and history entry), and the clean counterpart stays clean."""
from __future__ import annotations

import pytest

from imagekit import Image, Layer, jks_store, make_ca, pkcs12_store, private_key_pem, write_docker_archive, write_oci
from test_scan_support import PATH_ENV, debian_layer, public_bundle, public_roots, rules_of, scan

CORP_PEM, CORP_CERT, CORP_KEY = make_ca("Corp Root CA")


def public_certs():
    import warnings

    from cryptography import x509

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few real roots have negative serials
        return [x509.load_pem_x509_certificate(pem) for _, pem in public_roots()]


def oci(tmp_path, layers, **kwargs) -> str:
    return write_oci(tmp_path / "layout", Image(layers, **kwargs))


def with_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def registered_layer() -> Layer:
    """A custom CA put into the anchors *and* registered (bundle regenerated with it)."""
    return (Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
            .file("etc/ssl/certs/ca-certificates.crt", public_bundle() + CORP_PEM))


def test_clean_debian_like_image_is_clean(tmp_path):
    ref = oci(tmp_path, [debian_layer(), registered_layer()],
              env=[PATH_ENV, "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"])
    assert scan(ref) == []


def test_clean_image_from_every_docker_archive_style(tmp_path):
    image = Image([debian_layer(), registered_layer()])
    for style in ("classic", "skopeo", "docker25"):
        ref = write_docker_archive(tmp_path / f"{style}.tar", image, style=style)
        assert scan(ref) == [], style


# ---- IL701 insecure-env

@pytest.mark.parametrize("variable, rule_fires", [
    ("NODE_TLS_REJECT_UNAUTHORIZED=0", True),
    ("NODE_TLS_REJECT_UNAUTHORIZED=1", False),
    ("NODE_TLS_REJECT_UNAUTHORIZED=false", False),  # only "0" disables it (observed with Node v20.20.2)
    ("GIT_SSL_NO_VERIFY=false", True),  # any value (3.5)
    ("PYTHONHTTPSVERIFY=0", True),
    ("CURL_CA_BUNDLE=", True),
    ("PIP_TRUSTED_HOST=pypi.corp", True),
    ("npm_config_strict_ssl=false", True),
    ("NPM_CONFIG_STRICT_SSL=true", False),
    ("GOINSECURE=corp.example/*", True),
    ("MAVEN_OPTS=-Xmx1g -Dmaven.wagon.http.ssl.insecure=true", True),
])
def test_insecure_env(tmp_path, variable, rule_fires):
    findings = scan(oci(tmp_path, [debian_layer()], env=[PATH_ENV, variable]))
    assert ("IL701" in rules_of(findings)) is rule_fires


def test_insecure_env_names_the_history_entry_that_set_it(tmp_path):
    image = Image([debian_layer()], env=[PATH_ENV, "NODE_TLS_REJECT_UNAUTHORIZED=0"],
                  created_by=["ENV NODE_TLS_REJECT_UNAUTHORIZED=0"])
    [finding] = with_rule(scan(write_oci(tmp_path / "l", image)), "IL701")
    assert finding.path == "config"
    assert finding.properties["variable"] == "NODE_TLS_REJECT_UNAUTHORIZED"
    assert "NODE_TLS_REJECT_UNAUTHORIZED=0" in finding.properties["created_by"]


# ---- IL702 env-path-missing

def test_env_path_missing(tmp_path):
    env = [PATH_ENV, "REQUESTS_CA_BUNDLE=/certs/corp.pem", "SSL_CERT_DIR=/etc/ssl/certs:/nowhere",
           "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
           "JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=/opt/truststore.p12"]
    findings = with_rule(scan(oci(tmp_path, [debian_layer()], env=env)), "IL702")
    missing = sorted(f.properties["missing_path"] for f in findings)
    assert missing == ["/certs/corp.pem", "/nowhere", "/opt/truststore.p12"]


# ---- IL703 ca-not-registered

def test_anchor_not_in_bundle_names_the_layer_that_copied_it(tmp_path):
    anchor = Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
    image = Image([debian_layer(), anchor], created_by=["debian", "COPY corp.crt /usr/local/share/ca-certificates/"])
    [finding] = with_rule(scan(write_oci(tmp_path / "l", image)), "IL703")
    assert finding.path == "/usr/local/share/ca-certificates/corp.crt"
    assert finding.properties["layer"]["index"] == 1
    assert finding.properties["layer"]["digest"].startswith("sha256:")
    assert finding.properties["created_by"] == "COPY corp.crt /usr/local/share/ca-certificates/"
    assert "update-ca-certificates" in finding.message


def test_pem_name_in_debian_anchors_is_not_an_anchor(tmp_path):
    # update-ca-certificates reads only *.crt (update-ca-certificates(8)): a .pem there is no anchor of this rule.
    anchor = Layer().file("usr/local/share/ca-certificates/corp.pem", CORP_PEM)
    assert "IL703" not in rules_of(scan(oci(tmp_path, [debian_layer(), anchor])))


def test_pem_name_in_debian_anchors_is_reported_as_ignored(tmp_path):
    # The same .pem, even after update-ca-certificates ran: Debian's tool skipped it (update-ca-certificates(8)).
    anchor = Layer().file("usr/local/share/ca-certificates/corp.pem", CORP_PEM)
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), anchor])), "IL712")
    assert finding.category == "ca-wrong-ext-or-dir"
    assert "*.crt" in finding.message


def test_pem_name_registered_or_crt_is_not_ignored(tmp_path):
    registered = (Layer().file("usr/local/share/ca-certificates/corp.pem", CORP_PEM)
                  .file("etc/ssl/certs/ca-certificates.crt", public_bundle() + CORP_PEM))
    assert "IL712" not in rules_of(scan(oci(tmp_path / "a", [debian_layer(), registered])))
    assert "IL712" not in rules_of(scan(oci(tmp_path / "b", [debian_layer(), registered_layer()])))


def test_rhel_anchor_any_name(tmp_path):
    base = (Layer().file("etc/os-release", 'ID="rhel"\nID_LIKE="fedora"\n').file("bin/sh", "x", mode=0o755)
            .file("usr/bin/curl", "x", mode=0o755)
            .file("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", public_bundle())
            .symlink("etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"))
    anchor = Layer().file("etc/pki/ca-trust/source/anchors/corp.pem", CORP_PEM)
    [finding] = with_rule(scan(oci(tmp_path, [base, anchor])), "IL703")
    assert "update-ca-trust" in finding.message


# ---- IL704 no-ca-bundle / IL709 bundle-overwrite

def test_no_bundle_with_tls_clients(tmp_path):
    findings = scan(oci(tmp_path, [debian_layer(public_set=False, bundle=None)]))
    [finding] = with_rule(findings, "IL704")
    assert "/usr/bin/curl" in finding.message


def test_no_bundle_without_tls_clients_is_fine(tmp_path):
    assert "IL704" not in rules_of(scan(oci(tmp_path, [debian_layer(public_set=False, bundle=None, clients=())])))


def test_scratch_go_binary_without_bundle(tmp_path):
    # A Go program is recognised by its build-info marker, deep inside a large file.
    go_binary = b"\x7fELF" + b"\0" * (700 * 1024) + b"\xff Go buildinf:\x08\x02" + b"\0" * 4096
    app = Layer().file("app/server", go_binary, mode=0o755)
    [finding] = with_rule(scan(oci(tmp_path, [app])), "IL704")
    assert "/app/server" in finding.message


def test_scratch_go_binary_with_fallback_roots_needs_no_bundle(tmp_path):
    # Build info names golang.org/x/crypto/x509roots/fallback: the program embeds its own roots.
    go_binary = (b"\x7fELF" + b"\0" * (700 * 1024) + b"\xff Go buildinf:\x08\x02" + b"\0" * 64
                 + b"dep\tgolang.org/x/crypto/x509roots/fallback\tv0.0.0-20240603\t" + b"\0" * 4096)
    app = Layer().file("app/server", go_binary, mode=0o755)
    other = Layer().file("app/worker", b"\x7fELF" + b"\0" * (700 * 1024) + b"\xff Go buildinf:\x08\x02" + b"\0" * 4096, mode=0o755)
    assert "IL704" not in rules_of(scan(oci(tmp_path, [app])))
    [finding] = with_rule(scan(oci(tmp_path / "two", [app, other])), "IL704")
    assert "/app/worker" in finding.message and "/app/server" not in finding.message


def test_large_non_go_binary_is_no_tls_client(tmp_path):
    app = Layer().file("app/server", b"\x7fELF" + b"\0" * (700 * 1024), mode=0o755)
    assert scan(oci(tmp_path, [app])) == []


def test_bundle_overwritten_with_custom_ca(tmp_path):
    overwrite = Layer().file("etc/ssl/certs/ca-certificates.crt", CORP_PEM)
    findings = scan(oci(tmp_path, [debian_layer(), overwrite]))
    assert "IL709" in rules_of(findings)
    assert "IL704" not in rules_of(findings)  # one problem, one finding


def test_small_bundle_with_public_roots_is_suspicious(tmp_path):
    small = b"".join(pem for _, pem in public_roots()[:20])
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), Layer().file("etc/ssl/certs/ca-certificates.crt", small)])),
                          "IL704")
    assert finding.properties["roots"] == 20


# ---- IL705 java-ca-missing

def jvm_layer(store: bytes, home: str = "usr/lib/jvm/java-17-openjdk-amd64", link: bool = False) -> Layer:
    layer = Layer().file(f"{home}/bin/java", b"\x7fELF", mode=0o755).file(f"{home}/release", 'JAVA_VERSION="17"\n')
    if link:
        return (layer.file("etc/ssl/certs/java/cacerts", store)
                .symlink(f"{home}/lib/security/cacerts", "/etc/ssl/certs/java/cacerts"))
    return layer.file(f"{home}/lib/security/cacerts", store)


def test_java_store_lacking_custom_ca(tmp_path):
    vendor = jvm_layer(pkcs12_store(public_certs()[:120]), home="opt/java/openjdk")
    findings = with_rule(scan(oci(tmp_path, [debian_layer(), registered_layer(), vendor])), "IL705")
    [finding] = findings
    assert finding.path == "/opt/java/openjdk/lib/security/cacerts"
    assert "Corp Root CA" in finding.message


def test_java_store_with_custom_ca_through_symlink_is_clean(tmp_path):
    store = jks_store(public_certs()[:120] + [CORP_CERT])
    findings = scan(oci(tmp_path, [debian_layer(), registered_layer(), jvm_layer(store, link=True)]))
    assert "IL705" not in rules_of(findings)


def test_jssecacerts_shadows_cacerts(tmp_path):
    home = "usr/lib/jvm/java-17-openjdk-amd64"
    layer = jvm_layer(jks_store(public_certs()[:120] + [CORP_CERT]), home=home)
    layer.file(f"{home}/lib/security/jssecacerts", jks_store(public_certs()[:120]))
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), registered_layer(), layer])), "IL705")
    assert finding.path.endswith("/jssecacerts")


# ---- IL706 python-ca-missing

def python_layer(site: str = "usr/local/lib/python3.12/site-packages") -> Layer:
    return (Layer().file("usr/local/bin/python3.12", b"\x7fELF", mode=0o755)
            .file(f"{site}/requests/__init__.py", "").file(f"{site}/certifi/core.py", "def where(): ...\n")
            .file(f"{site}/certifi/cacert.pem", public_bundle()))


def test_certifi_lacks_custom_ca(tmp_path):
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), registered_layer(), python_layer()])), "IL706")
    assert finding.path.endswith("certifi/cacert.pem")
    assert "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt" in finding.message


def test_certifi_with_requests_ca_bundle_is_clean(tmp_path):
    env = [PATH_ENV, "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"]
    assert "IL706" not in rules_of(scan(oci(tmp_path, [debian_layer(), registered_layer(), python_layer()], env=env)))


# ---- IL707 node-ca-missing

def node_layer() -> Layer:
    return Layer().file("usr/local/bin/node", b"\x7fELF" + public_bundle(), mode=0o755)


def test_node_without_extra_ca(tmp_path):
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), registered_layer(), node_layer()])), "IL707")
    assert finding.path == "/usr/local/bin/node"


def hashed_layer() -> Layer:
    """What update-ca-certificates' rehash leaves in /etc/ssl/certs for the custom CA."""
    return (Layer().symlink("etc/ssl/certs/corp.pem", "/usr/local/share/ca-certificates/corp.crt")
            .symlink("etc/ssl/certs/1a2b3c4d.0", "corp.pem"))


@pytest.mark.parametrize("env", [
    "NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/corp.crt",
    "NODE_OPTIONS=--use-openssl-ca",
])
def test_node_configured_is_clean(tmp_path, env):
    layers = [debian_layer(), registered_layer(), hashed_layer(), node_layer()]
    assert "IL707" not in rules_of(scan(oci(tmp_path, layers, env=[PATH_ENV, env])))


def test_node_use_openssl_ca_without_hashed_links_still_lacks_the_ca(tmp_path):
    # Official node reads OPENSSLDIR=/etc/ssl: /etc/ssl/cert.pem (absent on Debian) and the hashed dir (observed with Node v20.20.2).
    layers = [debian_layer(), registered_layer(), node_layer()]
    [finding] = with_rule(scan(oci(tmp_path, layers, env=[PATH_ENV, "NODE_OPTIONS=--use-openssl-ca"])), "IL707")
    assert "--use-openssl-ca" in finding.message


# ---- IL708 cert-problem

def test_expired_custom_anchor_is_an_error(tmp_path):
    expired_pem, _, _ = make_ca("Old Corp CA", days=-10, not_before_days=-400)
    layer = (Layer().file("usr/local/share/ca-certificates/old.crt", expired_pem)
             .file("etc/ssl/certs/ca-certificates.crt", public_bundle() + expired_pem))
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), layer])), "IL708")
    assert str(finding.severity) == "error" and finding.properties["problem"] == "expired"


def test_expiring_custom_anchor_is_a_warning(tmp_path):
    soon_pem, _, _ = make_ca("Soon Corp CA", days=10)
    layer = (Layer().file("usr/local/share/ca-certificates/soon.crt", soon_pem)
             .file("etc/ssl/certs/ca-certificates.crt", public_bundle() + soon_pem))
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), layer])), "IL708")
    assert str(finding.severity) == "warning"
    assert "IL708" not in rules_of(scan(oci(tmp_path / "b", [debian_layer(), layer]), expiring_days=5))


def test_leaf_as_anchor(tmp_path):
    leaf_pem, _, _ = make_ca("server.corp.example", ca=False)
    layer = (Layer().file("usr/local/share/ca-certificates/server.crt", leaf_pem)
             .file("etc/ssl/certs/ca-certificates.crt", public_bundle() + leaf_pem))
    findings = with_rule(scan(oci(tmp_path, [debian_layer(), layer])), "IL708")
    assert {f.properties["problem"] for f in findings} & {"leaf-as-anchor", "self-signed-leaf"}


# ---- IL710 private-key-copied

def test_key_deleted_in_later_layer_is_still_reported(tmp_path):
    key_layer = Layer().file("app/tls/server.key", private_key_pem(CORP_KEY), mode=0o600)
    image = Image([debian_layer(), key_layer, Layer().whiteout("app/tls/server.key")],
                  created_by=["debian", "COPY server.key /app/tls/", "RUN /bin/sh -c rm /app/tls/server.key"])
    [finding] = with_rule(scan(write_oci(tmp_path / "l", image)), "IL710")
    assert finding.properties["layer"]["index"] == 1
    assert finding.properties["deleted_by_layer"] == 2
    assert "still shipped" in finding.message
    assert "PRIVATE KEY" not in finding.message and "BEGIN" not in str(finding.properties)


def test_key_in_pkcs12_and_odd_names(tmp_path):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    p12 = pkcs12.serialize_key_and_certificates(b"tls", CORP_KEY, CORP_CERT, None, BestAvailableEncryption(b"changeit"))
    layer = (Layer().file("srv/tls.p12", p12).file("home/app/notes.txt", private_key_pem(CORP_KEY)))
    paths = {f.path for f in with_rule(scan(oci(tmp_path, [debian_layer(), layer])), "IL710")}
    assert paths == {"/srv/tls.p12", "/home/app/notes.txt"}


# ---- IL711 trust-store-writable

def test_bundle_owned_by_user(tmp_path):
    layer = Layer().file("etc/ssl/certs/ca-certificates.crt", public_bundle() + CORP_PEM, uid=1000, gid=1000) \
        .file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), layer], user="app")), "IL711")
    assert "USER" in finding.message and finding.path == "/etc/ssl/certs/ca-certificates.crt"


def test_world_writable_anchor_dir(tmp_path):
    layer = Layer().dir("usr/local/share/ca-certificates", mode=0o777)
    [finding] = with_rule(scan(oci(tmp_path, [debian_layer(), layer])), "IL711")
    assert "world-writable" in finding.message


# ---- OS family detection

@pytest.mark.parametrize("files, family", [
    ({"etc/os-release": "ID=debian\n"}, "debian"),
    ({"etc/os-release": 'ID=debian\nPRETTY_NAME="Distroless"\n'}, "distroless"),
    ({"usr/lib/os-release": "ID=ubuntu\nID_LIKE=debian\n"}, "ubuntu"),
    ({"etc/os-release": "ID=wolfi\n"}, "wolfi"),
    ({"etc/os-release": 'ID="amzn"\nID_LIKE="centos rhel fedora"\n'}, "rhel"),
    ({"etc/os-release": 'ID="opensuse-leap"\nID_LIKE="suse opensuse"\n'}, "suse"),
    ({"etc/alpine-release": "3.20.0\n"}, "alpine"),
    ({"var/lib/dpkg/status.d/base": "Package: base-files\n"}, "distroless"),
    ({"bin/busybox": "x"}, "busybox"),
    ({"app/server": "x"}, "scratch"),
])
def test_family_from_filesystem(tmp_path, files, family):
    from imagelint.facts import family_of_filesystem as detect_os_family
    from imagelint.image.tree import read_image_tree
    from imagelint.trust.keep import TRUST_FILES
    from imagelint.image.sources import open_image

    layer = Layer()
    for name, text in files.items():
        layer.file(name, text)
    with open_image(oci(tmp_path, [layer])) as image:
        tree = read_image_tree(image, TRUST_FILES)
    assert detect_os_family(tree)[0] == family


def test_alpine_reads_only_the_top_level_of_the_anchor_dir(tmp_path):
    base = (Layer().file("etc/os-release", "ID=alpine\n").file("bin/sh", "x", mode=0o755)
            .file("usr/bin/wget", "x", mode=0o755).file("etc/ssl/certs/ca-certificates.crt", public_bundle()))
    nested = Layer().file("usr/local/share/ca-certificates/corp/corp.crt", CORP_PEM)
    assert "IL703" not in rules_of(scan(oci(tmp_path / "a", [base, nested])))
    top = Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
    assert "IL703" in rules_of(scan(oci(tmp_path / "b", [base, top])))


def test_temurin_use_system_ca_certs_through_its_entrypoint(tmp_path):
    vendor = jvm_layer(pkcs12_store(public_certs()[:120]), home="opt/java/openjdk")
    vendor.file("__cacert_entrypoint.sh", "#!/bin/sh\n", mode=0o755)
    layers = [debian_layer(), registered_layer(), vendor]
    env = [PATH_ENV, "JAVA_HOME=/opt/java/openjdk", "USE_SYSTEM_CA_CERTS=1"]
    assert "IL705" not in rules_of(scan(oci(tmp_path / "a", layers, env=env, entrypoint=["/__cacert_entrypoint.sh"])))
    # An overridden ENTRYPOINT never runs the import (adoptium/containers entrypoint.sh).
    assert "IL705" in rules_of(scan(oci(tmp_path / "b", layers, env=env, entrypoint=["java", "-jar", "/app.jar"])))

"""The exact words each runtime prints for each failure, so users can grep their logs.

Sources: openssl/openssl crypto/x509/x509_txt.c (X509_verify_cert_error_string, observed with OpenSSL
3.0.19) and the client lines observed with CPython 3.11, Node v20, OpenJDK 17, Go crypto/x509 verify.go,
curl 7.88.1, wget 1.21.3 and git 2.39.5, each cross-checked against the real clients in tests/test_trust_clients.py.
OpenSSL 1.x spells 18/19 "self signed" without the hyphen: match with `self[- ]signed`.
"""
from __future__ import annotations

from datetime import datetime

from .load import CertRecord
from .verify import STRICT_OPENSSL_TEXT, ChainError, is_ip_host

OPENSSL_TEXT = {
    2: "unable to get issuer certificate",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    25: "path length constraint exceeded",
    26: "unsupported certificate purpose",
    62: "hostname mismatch",
    64: "IP address mismatch",
    79: "invalid CA certificate",
    **STRICT_OPENSSL_TEXT,
}

# Node's err.code is the X509_V_ERR_ constant without its prefix.
NODE_CODE = {
    2: "UNABLE_TO_GET_ISSUER_CERT",
    9: "CERT_NOT_YET_VALID",
    10: "CERT_HAS_EXPIRED",
    18: "DEPTH_ZERO_SELF_SIGNED_CERT",
    19: "SELF_SIGNED_CERT_IN_CHAIN",
    20: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    21: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    25: "PATH_LENGTH_EXCEEDED",
    26: "INVALID_PURPOSE",
    79: "INVALID_CA",
}

JAVA_PKIX_BUILD = ("javax.net.ssl.SSLHandshakeException: PKIX path building failed: "
                   "sun.security.provider.certpath.SunCertPathBuilderException: "
                   "unable to find valid certification path to requested target")
JAVA_VALIDITY = ("PKIX path validation failed: java.security.cert.CertPathValidatorException: "
                 "validity check failed")
JAVA_NOT_CA = ("PKIX path validation failed: java.security.cert.CertPathValidatorException: "
               "basic constraints check failed: this is not a CA certificate")
# The JVM cannot open its trust store at all (wrong password, or not a keystore): observed with OpenJDK 17.0.15.
JAVA_STORE_UNREADABLE = ("java.net.SocketException: java.security.NoSuchAlgorithmException: Error constructing "
                         "implementation (algorithm: Default, provider: SunJSSE, "
                         "class: sun.security.ssl.SSLContextImpl$DefaultSSLContext)")
JAVA_STORE_UNREADABLE_CAUSE = "java.security.KeyManagementException: problem accessing trust store"
JAVA_NO_ANCHORS = "java.security.InvalidAlgorithmParameterException: the trustAnchors parameter must be non-empty"
GO_UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"
GO_TLS_PREFIX = "tls: failed to verify certificate: "
PYTHON_PREFIX = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
# A runtime whose store is empty (or, for Java, whose trustStore file is missing: observed with OpenJDK 17.0.15).
NO_ROOTS_TEXT = {
    "go": {"go": "x509: failed to load system roots and no roots provided"},
    "java": {"java": JAVA_PKIX_BUILD},
    "openssl": {"openssl": "unable to get local issuer certificate",
                "curl": "curl: (77) error setting certificate file"},
    "python-requests": {"python": "OSError: Could not find a suitable TLS CA certificate bundle"},
    "node": {"node": "UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unable to get local issuer certificate"},
}


def _go_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def hostname_texts(leaf: CertRecord, host: str, why: str) -> dict[str, str]:
    dns = ", ".join(leaf.dns_names)
    node_alt = ", ".join([f"DNS:{d}" for d in leaf.dns_names] + [f"IP Address:{i}" for i in leaf.ip_addresses])
    is_ip = why == "no-ip-san" or (why == "no-san-match" and is_ip_host(host))
    if is_ip:
        go = (f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
              if why == "no-ip-san" else f"x509: certificate is valid for {', '.join(leaf.ip_addresses)}, not {host}")
        java = (f"No subject alternative names matching IP address {host} found"
                if leaf.ip_addresses or leaf.dns_names else "No subject alternative names present")
        node = f"Hostname/IP does not match certificate's altnames: IP: {host} is not in the cert's list: {', '.join(leaf.ip_addresses)}"
    else:
        if why == "cn-only":
            go = "x509: certificate relies on legacy Common Name field, use SANs instead"
        else:
            go = f"x509: certificate is valid for {dns or leaf.common_name}, not {host}"
        java = f"No subject alternative DNS name matching {host} found." if leaf.dns_names else f"No name matching {host} found"
        node = (f"Hostname/IP does not match certificate's altnames: Host: {host}. is not in the cert's altnames: {node_alt}"
                if leaf.dns_names or leaf.ip_addresses else
                f"Hostname/IP does not match certificate's altnames: Host: {host}. is not cert's CN: {leaf.common_name}")
    curl = f"SSL: no alternative certificate subject name matches target host name '{host}'"
    return {
        "openssl": "IP address mismatch" if is_ip else "hostname mismatch",
        "python": f"{PYTHON_PREFIX}{'IP address' if is_ip else 'Hostname'} mismatch, certificate is not valid for '{host}'.",
        "curl": curl,
        "node": node,
        "java": java,
        "go": go,
    }


def urllib3_hostname_text(leaf: CertRecord, host: str) -> str:
    """urllib3 1.x (e.g. Debian bookworm's python3-urllib3 1.26) matches host names itself."""
    names = [*leaf.dns_names, *leaf.ip_addresses]
    if len(names) > 1:
        return "hostname %r doesn't match either of %s" % (host, ", ".join(map(repr, names)))
    if len(names) == 1:
        return "hostname %r doesn't match %r" % (host, names[0])
    return "no appropriate commonName or subjectAltName fields were found"


def error_texts(runtime: str, error: ChainError, host: str | None, at: datetime,
                details: dict | None = None) -> tuple[str, dict[str, str]]:
    """(the line this runtime prints, {client: line} for the clients it stands for)."""
    details = details or {}
    if error.reason == "hostname-mismatch" and host:
        texts = hostname_texts(error.cert, host, error.detail)
        if runtime == "python-requests" and str(details.get("urllib3_version", "2")).startswith("1."):
            line = urllib3_hostname_text(error.cert, host)
            return line, {"python": line}
        if runtime == "openssl":
            return texts["openssl"], {k: texts[k] for k in ("openssl", "python", "curl")}
        if runtime == "python-requests":
            return texts["python"], {"python": texts["python"]}
        if runtime == "node":
            return texts["node"], {"node": "ERR_TLS_CERT_ALTNAME_INVALID: " + texts["node"]}
        if runtime == "java":
            return texts["java"], {"java": texts["java"]}
        return texts["go"], {"go": GO_TLS_PREFIX + texts["go"]}

    code = error.openssl_code
    text = OPENSSL_TEXT.get(code, "certificate verify failed")
    if runtime == "openssl":
        return text, {
            "openssl": f"error {code} at {error.depth} depth lookup: {text}",
            "python": PYTHON_PREFIX + text,
            "curl": f"curl: (60) SSL certificate problem: {text}",
        }
    if runtime == "python-requests":
        return PYTHON_PREFIX + text, {"python": PYTHON_PREFIX + text}
    if runtime == "node":
        return f"{NODE_CODE.get(code, code)}: {text}", {"node": f"{NODE_CODE.get(code, code)}: {text}"}
    if runtime == "java":
        if error.reason in ("expired", "not-yet-valid"):
            line = JAVA_VALIDITY
        elif error.reason == "issuer-not-ca":
            line = JAVA_NOT_CA
        else:
            line = JAVA_PKIX_BUILD
        return line, {"java": line}
    if runtime == "go":
        if error.reason == "expired":
            line = (f"x509: certificate has expired or is not yet valid: current time {_go_time(at)} "
                    f"is after {_go_time(error.cert.not_after)}")
        elif error.reason == "not-yet-valid":
            line = (f"x509: certificate has expired or is not yet valid: current time {_go_time(at)} "
                    f"is before {_go_time(error.cert.not_before)}")
        elif error.reason == "issuer-not-ca":
            line = "x509: certificate is not authorized to sign other certificates"
        elif error.reason == "path-length-exceeded":
            line = "x509: too many intermediates for path length constraint"
        else:
            line = GO_UNKNOWN_AUTHORITY
        return line, {"go": GO_TLS_PREFIX + line}
    return text, {}

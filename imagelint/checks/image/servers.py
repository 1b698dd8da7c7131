"""What the TLS servers inside the image present (IL801-IL806): nginx, Apache httpd and HAProxy
configurations read from the image (servers/), each endpoint's certificate, key and chain files
checked by the shared analysis of served certificates (certs/served.py).

Facts: nginx docs "Configuring HTTPS servers"; Apache mod_ssl docs; HAProxy configuration manual
"crt". A static check of the named files is the only check before deploy: `nginx -t` and
`haproxy -c` accept a leaf-only file and an expired certificate, `apache2 -t` even a key mismatch
(observed with nginx 1.22, haproxy 2.6 and apache2 2.4 on Debian 12; tests/test_servers_real.py).
"""
from __future__ import annotations

from ...findings import Severity
from ...servers.analysis import endpoint_problems
from ..registry import check
from .context import ImageContext

RULE_OF = {
    "server-cert-missing": "IL801",
    "cert-expired": "IL802",
    "cert-short-lived": "IL803",
    "cert-key-mismatch": "IL804",
    "cert-chain-incomplete": "IL805",
    "cert-san-mismatch": "IL806",
}
SEVERITY = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


@check("IL801", "IL802", "IL803", "IL804", "IL805", "IL806", kind="image")
def served_certificates(ctx: ImageContext):
    trusted = ctx.server_trusted_cas
    reported: set[tuple] = set()
    for config in ctx.servers:
        for text in config.fatal:
            where, _, what = text.partition(": ")
            path = where.split(":")[0]
            yield ctx.hit("IL801", f"{config.server} will not start: {text}", path, problem="config-error",
                          server=config.server, config=config.main)
        for text in config.notes:
            path = text.split(":")[0]
            yield ctx.hit("IL801", f"{config.server}: not checked: {text}", path, severity=Severity.INFO,
                          problem="not-checked", server=config.server, config=config.main)
        for endpoint in config.endpoints:
            for problem in endpoint_problems(ctx.view, endpoint, trusted=trusted, expiring_days=ctx.expiring_days):
                props = problem.properties
                # One finding per problem and file; a second vhost serving the same file adds nothing.
                key = (problem.category, problem.problem, problem.fingerprint, props.get("file") or endpoint.cert_file,
                       props.get("name"))
                if key in reported:
                    continue
                reported.add(key)
                path = props.get("file") if problem.category == "server-cert-missing" else endpoint.cert_file
                yield ctx.hit(RULE_OF[problem.category], problem.message, path,
                              severity=SEVERITY.get(problem.severity), **props)

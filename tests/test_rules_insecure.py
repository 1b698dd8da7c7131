"""Verification switched off, package signatures and weak TLS (IL101-IL140): one case per tool/switch.

Each case is a small Dockerfile, the rule it must trigger and the severity it must have (scope:
persistent in the shipped stage = error; builder stage, ARG, one command = warning). Lookalikes
must stay clean of every IL1xx rule.
"""
from __future__ import annotations

import pytest

from imagelint.commands.lint import LintOptions, lint_text

BASE = "FROM debian:12\n"


def lint(text: str):
    if not text.startswith("FROM"):
        text = BASE + text
    findings, _ = lint_text(text, "Dockerfile", LintOptions())
    return findings


def il1(findings):
    return [f for f in findings if f.rule.startswith("IL1")]


# (case id, Dockerfile, rule, severity)
CASES = [
    # --- IL101 / IL102 / IL103: environment variables -------------------------------------------------
    ("node-env-shipped", "ENV NODE_TLS_REJECT_UNAUTHORIZED=0\n", "IL101", "error"),
    ("node-env-legacy-quoted", 'ENV NODE_TLS_REJECT_UNAUTHORIZED "0"\n', "IL101", "error"),
    ("node-env-builder", "FROM node:20 AS build\nENV NODE_TLS_REJECT_UNAUTHORIZED=0\nFROM node:20\n", "IL101", "warning"),
    ("node-export-run", "RUN export NODE_TLS_REJECT_UNAUTHORIZED=0 && npm ci\n", "IL101", "warning"),
    ("node-arg-resolved", "ARG OFF=0\nENV NODE_TLS_REJECT_UNAUTHORIZED=$OFF\n", "IL101", "error"),
    ("node-bashrc", "RUN echo 'export NODE_TLS_REJECT_UNAUTHORIZED=0' >> ~/.bashrc\n", "IL101", "warning"),
    ("git-ssl-no-verify-false", "ENV GIT_SSL_NO_VERIFY=false\n", "IL102", "error"),
    ("git-ssl-no-verify-arg", "ARG GIT_SSL_NO_VERIFY=1\n", "IL102", "warning"),
    ("pythonhttpsverify-debian", "ENV PYTHONHTTPSVERIFY=0\n", "IL103", "warning"),
    ("pythonhttpsverify-centos7", "FROM centos:7\nENV PYTHONHTTPSVERIFY=0\n", "IL103", "error"),
    ("curl-ca-bundle-empty", 'ENV CURL_CA_BUNDLE=""\n', "IL103", "error"),
    ("requests-ca-bundle-empty", 'ENV REQUESTS_CA_BUNDLE=""\n', "IL103", "warning"),
    ("pip-trusted-host-env", "ENV PIP_TRUSTED_HOST=pypi.corp.example\n", "IL103", "error"),
    ("uv-insecure-host-env", "ENV UV_INSECURE_HOST=pypi.corp.example\n", "IL103", "error"),
    ("npm-config-strict-ssl-env", "ENV NPM_CONFIG_STRICT_SSL=false\n", "IL103", "error"),
    ("npm-config-strict-ssl-lower-run", "RUN npm_config_strict_ssl=false npm ci\n", "IL103", "warning"),
    ("yarn-strict-ssl-env", "ENV YARN_STRICT_SSL=false\n", "IL103", "error"),
    ("yarn-berry-strict-ssl-env", "ENV YARN_ENABLE_STRICT_SSL=false\n", "IL103", "error"),
    ("goinsecure-env", "ENV GOINSECURE=git.corp.example/*\n", "IL103", "error"),
    ("goflags-insecure-env", "ENV GOFLAGS=-insecure\n", "IL103", "error"),
    ("conda-build-ssl-no-verify", "ENV SSL_NO_VERIFY=1\n", "IL103", "error"),
    ("apk-ssl-no-verify-hostname", "FROM alpine:3.20\nENV SSL_NO_VERIFY_HOSTNAME=1\n", "IL103", "error"),
    ("conda-ssl-verify-env", "ENV CONDA_SSL_VERIFY=false\n", "IL103", "error"),
    ("bundle-ssl-verify-mode-env", "ENV BUNDLE_SSL_VERIFY_MODE=0\n", "IL103", "error"),
    ("maven-opts-insecure", 'ENV MAVEN_OPTS="-Xmx1g -Dmaven.wagon.http.ssl.insecure=true"\n', "IL103", "error"),
    ("java-tool-options-aether", "ARG JAVA_TOOL_OPTIONS=-Daether.connector.https.securityMode=insecure\n", "IL103", "warning"),
    ("helm-kube-insecure-env", "ENV HELM_KUBEINSECURE_SKIP_TLS_VERIFY=true\n", "IL103", "error"),
    ("gcloud-disable-ssl-env", "ENV CLOUDSDK_AUTH_DISABLE_SSL_VALIDATION=true\n", "IL103", "error"),
    ("azure-cli-env", "ENV AZURE_CLI_DISABLE_CONNECTION_VERIFICATION=1\n", "IL103", "error"),
    ("vault-skip-verify-env", "ENV VAULT_SKIP_VERIFY=true\n", "IL103", "error"),
    ("consul-ssl-verify-env", "ENV CONSUL_HTTP_SSL_VERIFY=false\n", "IL103", "error"),
    ("pip-trusted-host-profile", "RUN echo 'export PIP_TRUSTED_HOST=pypi.corp.example' > /etc/profile.d/pip.sh\n", "IL103", "warning"),
    # --- IL110 curl ------------------------------------------------------------------------------------
    ("curl-k-cluster", "RUN curl -fsSLk https://example.com/x -o /tmp/x\n", "IL110", "warning"),
    ("curl-insecure-long", "RUN curl --insecure https://example.com/x\n", "IL110", "warning"),
    ("curl-proxy-insecure", "RUN curl --proxy-insecure -x https://proxy:3128 https://example.com/x\n", "IL110", "warning"),
    ("curlrc-echo", "RUN echo insecure >> ~/.curlrc\n", "IL110", "error"),
    ("curlrc-home-var", 'RUN echo "--insecure" > "$HOME/.curlrc"\n', "IL110", "error"),
    ("curlrc-copy-heredoc", "COPY <<EOF /root/.curlrc\nsilent\ninsecure\nEOF\n", "IL110", "error"),
    ("curlrc-builder", "FROM debian:12 AS b\nRUN printf -- '-k\\n' > /root/.curlrc\nFROM debian:12\n", "IL110", "warning"),
    ("curlrc-removed", "RUN echo insecure > /root/.curlrc && curl https://x.example/a -o /a && rm /root/.curlrc\n", "IL110", "warning"),
    # --- IL111 wget ------------------------------------------------------------------------------------
    ("wget-no-check", "RUN wget --no-check-certificate https://example.com/x\n", "IL111", "warning"),
    ("wget-execute", "RUN wget -e check_certificate=off https://example.com/x\n", "IL111", "warning"),
    ("wgetrc-etc", 'RUN echo "check_certificate = off" >> /etc/wgetrc\n', "IL111", "error"),
    ("wgetrc-home-tee", "RUN echo 'check-certificate=no' | tee ~/.wgetrc\n", "IL111", "error"),
    # --- IL112 git -------------------------------------------------------------------------------------
    ("git-config-global", "RUN git config --global http.sslVerify false\n", "IL112", "error"),
    ("git-config-url", 'RUN git config --system http."https://git.corp.example/".sslVerify false\n', "IL112", "error"),
    ("git-c-one-off", "RUN git -c http.sslVerify=false clone https://git.corp.example/app.git\n", "IL112", "warning"),
    ("gitconfig-heredoc", "COPY <<EOF /root/.gitconfig\n[http]\n\tsslVerify = false\nEOF\n", "IL112", "error"),
    ("git-config-builder", "FROM debian:12 AS src\nRUN git config --global http.sslverify 0\nFROM debian:12\n", "IL112", "warning"),
    # --- IL113 pip -------------------------------------------------------------------------------------
    ("pip-trusted-host", "RUN pip install --trusted-host pypi.corp.example flask\n", "IL113", "warning"),
    ("pip-trusted-host-eq", "RUN python3 -m pip install --trusted-host=pypi.corp.example flask\n", "IL113", "warning"),
    ("pip-config-set", "RUN pip config set global.trusted-host pypi.corp.example\n", "IL113", "error"),
    ("pip-conf-heredoc", "RUN cat > /etc/pip.conf <<EOF\n[global]\ntrusted-host = pypi.corp.example\nEOF\n", "IL113", "error"),
    ("uv-allow-insecure-host", "RUN uv pip install --allow-insecure-host pypi.corp.example flask\n", "IL113", "warning"),
    ("poetry-cert-false", "RUN poetry config certificates.corp.cert false\n", "IL113", "error"),
    # --- IL114 npm / yarn / pnpm -------------------------------------------------------------------------
    ("npm-config-set", "RUN npm config set strict-ssl false\n", "IL114", "error"),
    ("npm-config-set-eq", "RUN npm config set strict-ssl=false -g\n", "IL114", "error"),
    ("yarn-config-set", "RUN yarn config set strict-ssl false\n", "IL114", "error"),
    ("pnpm-config-set", "RUN pnpm config set strict-ssl false\n", "IL114", "error"),
    ("yarn-berry-config-set", "RUN yarn config set enableStrictSsl false\n", "IL114", "error"),
    ("npm-flag", "RUN npm install --strict-ssl=false\n", "IL114", "warning"),
    ("npm-no-strict-ssl", "RUN npm ci --no-strict-ssl\n", "IL114", "warning"),
    ("npmrc-echo", 'RUN echo "strict-ssl=false" >> /root/.npmrc\n', "IL114", "error"),
    ("yarnrc-echo", 'RUN echo "strict-ssl false" >> /root/.yarnrc\n', "IL114", "error"),
    ("yarnrc-yml-copy", "COPY <<EOF /app/.yarnrc.yml\nenableStrictSsl: false\nEOF\n", "IL114", "error"),
    ("npm-config-restored", "RUN npm config set strict-ssl false && npm ci && npm config set strict-ssl true\n", "IL114", "warning"),
    # --- IL115 OS package managers ------------------------------------------------------------------------
    ("apt-verify-peer-flag", "RUN apt-get -o Acquire::https::Verify-Peer=false update\n", "IL115", "warning"),
    ("apt-verify-host-host", "RUN apt-get -o Acquire::https::apt.corp.example::Verify-Host=false install -y x\n", "IL115", "warning"),
    ("apt-conf-file", "RUN echo 'Acquire::https::Verify-Peer \"false\";' > /etc/apt/apt.conf.d/99insecure\n", "IL115", "error"),
    ("dnf-setopt", "FROM rockylinux:9\nRUN dnf --setopt=sslverify=0 install -y git\n", "IL115", "warning"),
    ("yum-setopt-repo", "FROM centos:7\nRUN yum --setopt=corp.sslverify=false install -y git\n", "IL115", "warning"),
    ("microdnf-setopt", "FROM registry.access.redhat.com/ubi9/ubi-minimal\nRUN microdnf --setopt=sslverify=no install git\n", "IL115", "warning"),
    ("yum-config-manager-save", "FROM centos:7\nRUN yum-config-manager --save --setopt=sslverify=false\n", "IL115", "error"),
    ("dnf-conf-echo", "FROM rockylinux:9\nRUN echo sslverify=0 >> /etc/dnf/dnf.conf\n", "IL115", "error"),
    ("yum-conf-sed", "FROM centos:7\nRUN sed -i 's/^sslverify=.*/sslverify=false/' /etc/yum.conf\n", "IL115", "error"),
    ("repo-file-heredoc", "FROM rockylinux:9\nCOPY <<EOF /etc/yum.repos.d/corp.repo\n[corp]\nbaseurl=https://rpm.corp.example/el9\nsslverify=0\nEOF\n", "IL115", "error"),
    ("apk-no-check-certificate", "FROM alpine:3.20\nRUN apk --no-check-certificate add curl\n", "IL115", "warning"),
    ("apk-config", "FROM alpine:3.20\nRUN echo no-check-certificate >> /etc/apk/config\n", "IL115", "error"),
    # --- IL116 build tools -----------------------------------------------------------------------------------
    ("maven-wagon-insecure", "RUN mvn -Dmaven.wagon.http.ssl.insecure=true package\n", "IL116", "warning"),
    ("maven-wagon-allowall", "RUN ./mvnw -B -Dmaven.wagon.http.ssl.allowall=true package\n", "IL116", "warning"),
    ("maven-ignore-dates", "RUN mvn -Dmaven.wagon.http.ssl.ignore.validity.dates=true package\n", "IL116", "warning"),
    ("maven-aether-insecure", "RUN mvn -Daether.connector.https.securityMode=insecure package\n", "IL116", "warning"),
    ("maven-config-file", "RUN echo '-Dmaven.wagon.http.ssl.insecure=true' >> /app/.mvn/maven.config\n", "IL116", "error"),
    ("composer-disable-tls", "RUN composer config -g disable-tls true\n", "IL116", "error"),
    ("composer-secure-http", "RUN composer config --global secure-http false\n", "IL116", "error"),
    ("gemrc", "RUN echo ':ssl_verify_mode: 0' >> ~/.gemrc\n", "IL116", "error"),
    ("bundle-config", "RUN bundle config set --global ssl_verify_mode 0\n", "IL116", "error"),
    ("conda-config-set", "RUN conda config --set ssl_verify false\n", "IL116", "error"),
    ("conda-config-set-no", "RUN conda config --set ssl_verify no && conda install numpy && conda config --set ssl_verify true\n", "IL116", "warning"),
    ("condarc", "RUN printf 'ssl_verify: false\\n' > /opt/conda/.condarc\n", "IL116", "error"),
    ("conda-insecure-flag", "RUN conda install --insecure numpy\n", "IL116", "warning"),
    ("go-get-insecure", "FROM golang:1.16\nRUN go get -insecure git.corp.example/tool\n", "IL116", "warning"),
    ("go-env-w-goinsecure", "FROM golang:1.22\nRUN go env -w GOINSECURE=git.corp.example\n", "IL116", "error"),
    ("ansible-galaxy-ignore-certs", "RUN ansible-galaxy install --ignore-certs geerlingguy.java\n", "IL116", "warning"),
    # --- IL117 cluster / registry / cloud CLIs --------------------------------------------------------------
    ("aws-no-verify-ssl", "RUN aws s3 cp --no-verify-ssl s3://bucket/key /tmp/key\n", "IL117", "warning"),
    ("helm-insecure", "RUN helm pull --insecure-skip-tls-verify oci://charts.corp.example/app\n", "IL117", "warning"),
    ("helm-repo-add-insecure", "RUN helm repo add corp https://charts.corp.example --insecure-skip-tls-verify\n", "IL117", "error"),
    ("helm-kube-insecure", "RUN helm list --kube-insecure-skip-tls-verify\n", "IL117", "warning"),
    ("kubectl-insecure", "RUN kubectl --insecure-skip-tls-verify=true get pods\n", "IL117", "warning"),
    ("kubectl-set-cluster", "RUN kubectl config set-cluster corp --server=https://k8s.corp.example --insecure-skip-tls-verify=true\n", "IL117", "error"),
    ("kubeconfig-heredoc", "COPY <<EOF /root/.kube/config\nclusters:\n- cluster:\n    insecure-skip-tls-verify: true\n    server: https://k8s\nEOF\n", "IL117", "error"),
    ("skopeo-tls-verify", "RUN skopeo copy --src-tls-verify=false docker://r.example/a:1 oci:/tmp/a\n", "IL117", "warning"),
    ("skopeo-dest-tls-verify", "RUN skopeo copy --dest-tls-verify=false oci:/tmp/a docker://r.example/a:1\n", "IL117", "warning"),
    ("podman-tls-verify", "RUN podman pull --tls-verify=false r.example/a:1\n", "IL117", "warning"),
    ("buildah-tls-verify", "RUN buildah push --tls-verify=false a docker://r.example/a:1\n", "IL117", "warning"),
    ("crane-insecure", "RUN crane pull --insecure r.example/a:1 /tmp/a.tar\n", "IL117", "warning"),
    ("gcloud-config-set", "RUN gcloud config set auth/disable_ssl_validation true\n", "IL117", "error"),
    ("registries-conf", "RUN printf '[[registry]]\\nlocation = \"r.example\"\\ninsecure = true\\n' >> /etc/containers/registries.conf\n", "IL117", "error"),
    ("ldap-reqcert", "RUN echo 'TLS_REQCERT never' >> /etc/ldap/ldap.conf\n", "IL117", "error"),
    # --- IL118 Python code ---------------------------------------------------------------------------------
    ("sitecustomize-echo", "RUN echo 'import ssl; ssl._create_default_https_context = ssl._create_unverified_context' > /usr/lib/python3/dist-packages/sitecustomize.py\n", "IL118", "error"),
    ("sitecustomize-requests-patch", "COPY <<EOF /usr/local/lib/python3.12/site-packages/sitecustomize.py\nimport requests, functools\nrequests.Session.request = functools.partialmethod(requests.Session.request, verify=False)\nEOF\n", "IL118", "error"),
    ("pth-file", "RUN echo 'import ssl; ssl._create_default_https_context = ssl._create_unverified_context' > /usr/local/lib/python3.12/site-packages/zz-insecure.pth\n", "IL118", "error"),
    ("requests-library-sed-patch", "RUN sed -i 's/verify = True/verify = False/' /usr/local/lib/python3.12/site-packages/requests/sessions.py\n", "IL118", "error"),
    ("python-c-unverified", "RUN python3 -c \"import ssl,urllib.request; urllib.request.urlopen('https://x', context=ssl._create_unverified_context())\"\n", "IL118", "warning"),
    # --- IL119 openssl s_client TOFU -----------------------------------------------------------------------
    ("s-client-to-anchor", "RUN openssl s_client -showcerts -connect proxy.corp.example:443 </dev/null | openssl x509 > /usr/local/share/ca-certificates/proxy.crt\n", "IL119", "error"),
    ("s-client-two-hops", "RUN openssl s_client -connect proxy:443 </dev/null 2>/dev/null | openssl x509 -out /tmp/p.pem && cp /tmp/p.pem /usr/local/share/ca-certificates/p.crt && update-ca-certificates\n", "IL119", "error"),
    ("s-client-keytool", "RUN openssl s_client -connect nexus:443 </dev/null | openssl x509 > /tmp/nexus.pem && keytool -importcert -noprompt -cacerts -storepass changeit -file /tmp/nexus.pem\n", "IL119", "error"),
    ("s-client-x509-in-out", "RUN echo | openssl s_client -connect nexus:443 > /tmp/raw.txt && openssl x509 -in /tmp/raw.txt -out /usr/local/share/ca-certificates/nexus.crt && update-ca-certificates\n", "IL119", "error"),
    # --- IL130 package signatures ---------------------------------------------------------------------------
    ("apk-allow-untrusted-download", "FROM alpine:3.20\nRUN wget -q https://github.com/sgerrand/alpine-pkg-glibc/releases/download/2.35-r1/glibc-2.35-r1.apk && apk add --allow-untrusted glibc-2.35-r1.apk\n", "IL130", "warning"),
    ("apk-allow-untrusted-repo", "FROM alpine:3.20\nRUN apk add --allow-untrusted --repository http://dl-3.alpinelinux.org/alpine/edge/testing/ geos\n", "IL130", "warning"),
    ("apk-allow-untrusted-names", "FROM alpine:3.20\nRUN apk add --no-cache --allow-untrusted haproxy\n", "IL130", "warning"),
    ("apt-allow-unauthenticated", "RUN apt-get install -y --allow-unauthenticated corp-tool\n", "IL130", "warning"),
    ("apt-force-yes", "RUN apt-get install -y --force-yes corp-tool\n", "IL130", "warning"),
    ("apt-allow-insecure-repositories", "RUN apt-get update --allow-insecure-repositories\n", "IL130", "warning"),
    ("apt-o-allow-insecure", "RUN apt-get -o Acquire::AllowInsecureRepositories=true update\n", "IL130", "warning"),
    ("apt-trusted-yes", 'RUN echo "deb [trusted=yes] http://apt.corp.example/ stable main" > /etc/apt/sources.list.d/corp.list\n', "IL130", "error"),
    ("apt-conf-unauthenticated", "RUN echo 'APT::Get::AllowUnauthenticated \"true\";' > /etc/apt/apt.conf.d/99unauth\n", "IL130", "error"),
    ("rpm-nosignature", "FROM rockylinux:9\nRUN curl -fsSLo /tmp/corp.rpm https://rpm.corp.example/corp.rpm && rpm -ivh --nosignature /tmp/corp.rpm\n", "IL130", "warning"),
    ("rpm-nodigest", "FROM rockylinux:9\nRUN rpm -Uvh --nodigest https://rpm.corp.example/corp.rpm\n", "IL130", "warning"),
    ("yum-nogpgcheck", "FROM centos:7\nRUN yum install -y --nogpgcheck corp-tool\n", "IL130", "warning"),
    ("dnf-setopt-gpgcheck", "FROM fedora:40\nRUN dnf install -y --setopt=gpgcheck=0 corp-tool\n", "IL130", "warning"),
    ("microdnf-nogpgcheck", "FROM registry.access.redhat.com/ubi9/ubi-minimal\nRUN microdnf install --nogpgcheck corp-tool\n", "IL130", "warning"),
    ("tdnf-nogpgcheck", "FROM photon:5.0\nRUN tdnf install -y --nogpgcheck corp-tool\n", "IL130", "warning"),
    ("repo-gpgcheck-0", "FROM rockylinux:9\nRUN printf '[corp]\\nbaseurl=https://rpm.corp.example\\ngpgcheck=0\\n' > /etc/yum.repos.d/corp.repo\n", "IL130", "error"),
    ("repo-gpgcheck-sed", "FROM centos:7\nRUN sed -i 's/gpgcheck=1/gpgcheck=0/g' /etc/yum.repos.d/CentOS-Base.repo\n", "IL130", "error"),
    ("add-apt-repository-trusted", "RUN add-apt-repository 'deb [trusted=yes] http://apt.corp.example/ubuntu jammy main'\n", "IL130", "error"),
    ("yum-nogpgcheck-downloaded-rpm", "FROM centos:7\nRUN curl -fsSLo /tmp/x.rpm https://rpm.corp.example/x.rpm && yum localinstall -y --nogpgcheck /tmp/x.rpm\n", "IL130", "warning"),
    ("zypper-no-gpg-checks", "FROM opensuse/leap:15.6\nRUN zypper --no-gpg-checks install -y corp-tool\n", "IL130", "warning"),
    ("pacman-siglevel-never", "FROM archlinux:latest\nRUN sed -i 's/^SigLevel.*/SigLevel = Never/' /etc/pacman.conf\n", "IL130", "error"),
    # --- IL140 weak TLS --------------------------------------------------------------------------------------
    ("curl-tlsv1", "RUN curl --tlsv1 https://legacy.example/x\n", "IL140", "info"),
    ("curl-tlsv1.0", "RUN curl --tlsv1.0 https://legacy.example/x\n", "IL140", "info"),
    ("curl-tlsv1.1", "RUN curl --tlsv1.1 https://legacy.example/x\n", "IL140", "info"),
    ("curl-short-1", "RUN curl -1 https://legacy.example/x\n", "IL140", "info"),
    ("curl-tls-max-1.0", "RUN curl --tls-max 1.0 https://legacy.example/x\n", "IL140", "warning"),
    ("curl-tls-max-1.1", "RUN curl --tls-max 1.1 https://legacy.example/x\n", "IL140", "warning"),
    ("curl-sslv3", "RUN curl --sslv3 https://legacy.example/x\n", "IL140", "warning"),
    ("curl-sslv2-short", "RUN curl -2 https://legacy.example/x\n", "IL140", "warning"),
    ("wget-secure-protocol-sslv3", "RUN wget --secure-protocol=SSLv3 https://legacy.example/x\n", "IL140", "warning"),
    ("wget-secure-protocol-tlsv1", "RUN wget --secure-protocol=TLSv1 https://legacy.example/x\n", "IL140", "warning"),
    ("wget-secure-protocol-tlsv1_1", "RUN wget --secure-protocol TLSv1_1 https://legacy.example/x\n", "IL140", "warning"),
    ("openssl-cnf-minprotocol", "RUN sed -i 's/MinProtocol = TLSv1.2/MinProtocol = TLSv1/' /etc/ssl/openssl.cnf\n", "IL140", "error"),
    ("crypto-policies-legacy", "FROM rockylinux:9\nRUN update-crypto-policies --set LEGACY\n", "IL140", "error"),
    ("node-options-tls-min", "ENV NODE_OPTIONS=--tls-min-v1.0\n", "IL140", "info"),
]


@pytest.mark.parametrize("text,rule,severity", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_switch_is_reported_with_scope_severity(text, rule, severity):
    hits = [f for f in lint(text) if f.rule == rule]
    assert hits, f"{rule} not reported; got {[(f.rule, f.message) for f in lint(text)]}"
    assert str(hits[0].severity) == severity, hits[0].message


LOOKALIKES = [
    ("node-tls-1", "ENV NODE_TLS_REJECT_UNAUTHORIZED=1\n"),
    ("node-tls-false", "RUN NODE_TLS_REJECT_UNAUTHORIZED=false node app.js\n"),
    ("node-extra-ca", "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n"),
    ("requests-bundle-path", "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n"),
    ("curl-ca-bundle-path", "ENV CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n"),
    ("pythonhttpsverify-1", "ENV PYTHONHTTPSVERIFY=1\n"),
    ("npm-strict-ssl-true", "ENV npm_config_strict_ssl=true\n"),
    ("conda-ssl-verify-path", "ENV CONDA_SSL_VERIFY=/etc/ssl/certs/ca-certificates.crt\n"),
    ("goflags-other", "ENV GOFLAGS=-mod=vendor\n"),
    ("gonosumdb-not-tls", "ENV GONOSUMDB=git.corp.example\n"),
    ("vault-skip-verify-false", "ENV VAULT_SKIP_VERIFY=false\n"),
    ("helm-env-false", "ENV HELM_KUBEINSECURE_SKIP_TLS_VERIFY=false\n"),
    ("maven-opts-memory", 'ENV MAVEN_OPTS="-Xmx1g -Dmaven.repo.local=/m2"\n'),
    ("curl-k-in-echo", "RUN echo 'curl -k https://example.com' > /tmp/notes.txt\n"),
    ("curl-output-k", "RUN curl -fsSLo /tmp/k https://example.com/k\n"),
    ("curl-cacert", "RUN curl --cacert /etc/ssl/certs/ca-certificates.crt https://example.com\n"),
    ("curlrc-other-file", "RUN echo insecure >> /tmp/notes.txt\n"),
    ("curlrc-proxy-only", "RUN echo 'proxy = http://proxy:3128' >> ~/.curlrc\n"),
    ("wget-ca-certificate", "RUN wget --ca-certificate=/etc/ssl/certs/ca-certificates.crt https://example.com\n"),
    ("wgetrc-on", 'RUN echo "check_certificate = on" >> /etc/wgetrc\n'),
    ("git-sslverify-true", "RUN git config --global http.sslVerify true\n"),
    ("git-cainfo", "RUN git config --global http.sslCAInfo /etc/ssl/certs/ca-certificates.crt\n"),
    ("git-c-other", "RUN git -c advice.detachedHead=false clone https://git.example/app.git\n"),
    ("gitconfig-other-section", "COPY <<EOF /root/.gitconfig\n[core]\n\tsslVerify = false\nEOF\n"),
    ("pip-cert", "RUN pip install --cert /etc/ssl/certs/ca-certificates.crt flask\n"),
    ("pip-conf-index", "RUN printf '[global]\\nindex-url = https://pypi.corp.example/simple\\n' > /etc/pip.conf\n"),
    ("pip-config-set-index", "RUN pip config set global.index-url https://pypi.corp.example/simple\n"),
    ("npm-config-set-registry", "RUN npm config set registry https://registry.corp.example/\n"),
    ("npm-strict-ssl-true-cmd", "RUN npm config set strict-ssl true\n"),
    ("npmrc-cafile", "RUN echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >> /root/.npmrc\n"),
    ("apt-check-valid-until", "RUN apt-get -o Acquire::Check-Valid-Until=false update\n"),
    ("apt-verify-peer-true", "RUN apt-get -o Acquire::https::Verify-Peer=true update\n"),
    ("apt-cainfo-conf", "RUN echo 'Acquire::https::CAInfo \"/etc/ssl/certs/corp.pem\";' > /etc/apt/apt.conf.d/99corp\n"),
    ("apt-trusted-local-file", 'RUN echo "deb [ trusted=yes ] file:/tmp/pkgs ./" > /etc/apt/sources.list.d/temp.list\n'),
    ("apt-signed-by", 'RUN echo "deb [signed-by=/usr/share/keyrings/corp.gpg] https://apt.corp.example/ stable main" > /etc/apt/sources.list.d/corp.list\n'),
    ("dnf-setopt-other", "FROM rockylinux:9\nRUN dnf --setopt=install_weak_deps=False install -y git\n"),
    ("repo-gpgcheck-1", "FROM rockylinux:9\nRUN printf '[corp]\\nbaseurl=https://rpm.corp.example\\ngpgcheck=1\\n' > /etc/yum.repos.d/corp.repo\n"),
    ("repo-repo-gpgcheck-0", "FROM rockylinux:9\nRUN printf '[corp]\\nbaseurl=https://rpm.corp.example\\ngpgcheck=1\\nrepo_gpgcheck=0\\n' > /etc/yum.repos.d/corp.repo\n"),
    ("repo-local-gpgcheck-0", "FROM rockylinux:9\nRUN printf '[local]\\nbaseurl=file:///tmp/repo\\ngpgcheck=0\\n' > /etc/yum.repos.d/local.repo\n"),
    ("sed-delete-localpkg-gpgcheck", "FROM amazonlinux:2023\nRUN sed -i '/localpkg_gpgcheck=1/d' /etc/dnf/dnf.conf\n"),
    ("yum-sslverify-1", "FROM centos:7\nRUN echo sslverify=1 >> /etc/yum.conf\n"),
    ("apk-index-allow-untrusted", "FROM alpine:3.20\nRUN apk index --allow-untrusted -o /tmp/APKINDEX.tar.gz /tmp/*.apk\n"),
    ("apk-allow-untrusted-built-here", "FROM alpine:3.20\nRUN abuild -r && apk add --allow-untrusted /home/abuild/packages/main/x86_64/*.apk\n"),
    ("rpm-nosignature-from-context", "FROM rockylinux:9\nCOPY corp.rpm /tmp/corp.rpm\nRUN rpm -ivh --nosignature /tmp/corp.rpm\n"),
    ("yum-nogpgcheck-local-rpm", "FROM centos:7\nCOPY build/x.rpm /tmp/x.rpm\nRUN yum localinstall -y --nogpgcheck /tmp/x.rpm\n"),
    ("site-packages-other-edit", "RUN sed -i 's/timeout=10/timeout=60/' /usr/local/lib/python3.12/site-packages/requests/sessions.py\n"),
    ("curl-k-loopback", "RUN ./start.sh & sleep 5 && curl -k https://localhost:8443/health && curl -k https://127.0.0.1:8443/ready\n"),
    ("wget-loopback", "RUN wget --no-check-certificate -qO- https://[::1]:9443/status\n"),
    ("curl-k-plain-http", "RUN curl -k http://localhost:5984/registry\n"),
    ("apk-plain", "FROM alpine:3.20\nRUN apk add --no-cache ca-certificates\n"),
    ("rpm-query-nosignature", "FROM rockylinux:9\nRUN rpm -K --nosignature /tmp/x.rpm\n"),
    ("maven-plain", "RUN mvn -B -DskipTests package\n"),
    ("maven-insecure-false", "RUN mvn -Dmaven.wagon.http.ssl.insecure=false package\n"),
    ("gradle-allow-insecure-protocol", "RUN echo 'allowInsecureProtocol = true' >> build.gradle\n"),
    ("composer-cafile", "RUN composer config -g cafile /etc/ssl/certs/ca-certificates.crt\n"),
    ("conda-ssl-verify-bundle", "RUN conda config --set ssl_verify /etc/ssl/certs/ca-certificates.crt\n"),
    ("conda-channel", "RUN conda config --add channels conda-forge\n"),
    ("go-get-plain", "FROM golang:1.16\nRUN go get golang.org/x/tools/cmd/goimports\n"),
    ("skopeo-tls-verify-true", "RUN skopeo copy --src-tls-verify=true docker://r.example/a:1 oci:/tmp/a\n"),
    ("podman-tls-verify-space", "RUN podman pull --tls-verify false\n"),
    ("kubectl-plain", "RUN kubectl version --client\n"),
    ("helm-plain", "RUN helm repo add bitnami https://charts.bitnami.com/bitnami\n"),
    ("aws-ca-bundle", "RUN aws s3 cp --ca-bundle /etc/ssl/certs/ca-certificates.crt s3://b/k /tmp/k\n"),
    ("urllib3-disable-warnings", "RUN echo 'import urllib3; urllib3.disable_warnings()' > /usr/local/lib/python3.12/site-packages/sitecustomize.py\n"),
    ("python-verify-true", "RUN python3 -c \"import requests; requests.get('https://x', verify=True)\"\n"),
    ("python-comment", "RUN printf 'import ssl\\n# ssl._create_unverified_context is bad\\n' > /usr/local/lib/python3.12/site-packages/sitecustomize.py\n"),
    ("s-client-inspect", "RUN openssl s_client -connect example.com:443 </dev/null | openssl x509 -noout -dates\n"),
    ("s-client-verify-return-error", "RUN openssl s_client -verify_return_error -CAfile /etc/ssl/certs/ca-certificates.crt -connect p:443 </dev/null | openssl x509 > /usr/local/share/ca-certificates/p.crt\n"),
    ("curl-tlsv1.2", "RUN curl --tlsv1.2 https://example.com\n"),
    ("curl-tlsv1.3", "RUN curl --tlsv1.3 --tls-max 1.3 https://example.com\n"),
    ("wget-secure-protocol-tlsv1_2", "RUN wget --secure-protocol=TLSv1_2 https://example.com\n"),
    ("openssl-cnf-tls12", "RUN sed -i 's/MinProtocol = TLSv1/MinProtocol = TLSv1.2/' /etc/ssl/openssl.cnf\n"),
    ("node-options-system-ca", "ENV NODE_OPTIONS=--use-openssl-ca\n"),
]


@pytest.mark.parametrize("text", [c[1] for c in LOOKALIKES], ids=[c[0] for c in LOOKALIKES])
def test_lookalike_stays_clean(text):
    hits = il1(lint(text))
    assert not hits, [(f.rule, f.message) for f in hits]


def test_breadth_exceeds_35_tool_switch_pairs():
    assert len({c[0] for c in CASES}) >= 35
    assert len({c[2] for c in CASES}) >= 13


def test_ca_download_is_called_out():
    findings = lint("RUN curl -k https://pki.corp.example/root.crt -o /usr/local/share/ca-certificates/root.crt\n")
    assert any("CA certificate" in f.message for f in findings if f.rule == "IL110")


def test_installer_piped_to_shell_is_called_out():
    findings = lint("RUN wget --no-check-certificate -qO- https://get.example.com/install.sh | sh\n")
    assert any("piped to a shell" in f.message for f in findings if f.rule == "IL111")


def test_finding_points_at_the_flag():
    text = BASE + "RUN curl -fsSL --insecure https://example.com/x\n"
    hit = next(f for f in lint(text) if f.rule == "IL110")
    line = text.splitlines()[hit.line - 1]
    assert line[hit.column - 1 : hit.end_column - 1] == "--insecure"


def test_pythonhttpsverify_message_says_where_it_works():
    hit = next(f for f in lint("ENV PYTHONHTTPSVERIFY=0\n") if f.rule == "IL103")
    assert "distribution-patched" in hit.message


def test_signing_key_download_is_called_out():
    findings = lint("RUN wget --no-check-certificate -qO- https://www.postgresql.org/media/keys/ACCC4CF8.asc | apt-key add -\n")
    assert any("signing key" in f.message for f in findings if f.rule == "IL111")


def test_curl_k_with_redirects_from_http_still_counts():
    findings = lint("RUN curl -Lko /tmp/x.zip http://www.example.com/x.zip\n")
    assert [f.rule for f in findings if f.rule == "IL110"] == ["IL110"]

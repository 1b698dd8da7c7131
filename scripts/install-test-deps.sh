#!/usr/bin/env bash
# Install what the test suite needs: Debian tools for the real services, then imagelint itself
# with its test and bench extras. Idempotent: apt is touched only when something is missing.
set -euo pipefail

cd "$(dirname "$0")/.."

# package -> how we know it is already there (a command on PATH, else the dpkg status).
# node and java may come from elsewhere (e.g. nodesource): a working binary is enough, never replace it.
declare -A present_if=(
  [docker.io]=dockerd
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [umoci]=umoci
  [mmdebstrap]=mmdebstrap
  [openssl]=openssl
  [apache2-utils]=htpasswd
  [curl]=curl
  [wget]=wget
  [openjdk-17-jre-headless]=java
  [ca-certificates-java]=
  [nodejs]=node
  [openjdk-17-jdk-headless]=javac
  [golang-go]=go  # trust: Go's x509 verdicts are checked against a real Go client
  [prometheus]=prometheus  # expiry: Prometheus scrapes the textfile output through node_exporter
  [prometheus-node-exporter]=prometheus-node-exporter
  [kubectl]=kubectl  # tests render kustomizations with kubectl kustomize
  # server-side checks: predictions cross-checked against the real servers (tests/test_servers_real.py)
  [nginx]=nginx
  [apache2]=apache2
  [haproxy]=haproxy
  [caddy]=caddy
  [tomcat10]=  # catalina.sh is not on PATH: the dpkg status decides
)

dpkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for package in "${!present_if[@]}"; do
  command_name=${present_if[$package]}
  if [ -n "$command_name" ] && command -v "$command_name" >/dev/null 2>&1; then
    continue
  fi
  dpkg_installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Package scripts must not start dockerd or a registry as system services: tests start their own.
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  trap '[ -z "$added_policy" ] || $sudo rm -f /usr/sbin/policy-rc.d' EXIT
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-test-deps: system packages already present" >&2
fi

# kubernetes-validate (a test extra) ships the Kubernetes JSON schemas: it validates offline.
# fast: the isal inflate path is tested against zlib's (tests/test_inflate.py).
python -m pip install --quiet --disable-pip-version-check -e '.[test,bench,fast]'
# Property tests (tests/test_fuzz.py) run in CI; they must not silently skip for want of Hypothesis.
python -c 'import hypothesis' 2>/dev/null || python -m pip install --quiet --disable-pip-version-check 'hypothesis>=6.100'

#!/usr/bin/env bash
# Prove, before any lab or Molecule scenario starts, that containers on a fresh podman
# network resolve each other by name (the lab's replica runs `pg_basebackup -h <writer>`,
# the app nodes reach the database containers by name). With podman's CNI backend that
# takes Debian's golang-github-containernetworking-plugin-dnsname (Makefile APT_PACKAGES).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
image=localhost/mattermost-ha-node:latest
suffix=$$
network=mmha-netcheck-$suffix
server=mmha-netcheck-server-$suffix

cleanup() {
  podman rm -f -t 0 "$server" >/dev/null 2>&1 || true
  podman network rm -f "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT

podman network create "$network" >/dev/null
podman run -d --name "$server" --network "$network" "$image" sleep 120 >/dev/null
if podman run --rm --network "$network" "$image" getent hosts "$server" >/dev/null; then
  echo "podman network: containers resolve each other by name"
  exit 0
fi
backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null || echo unknown)
dns=$(podman network inspect "$network" --format '{{.DNSEnabled}}' 2>/dev/null || echo unknown)
cat >&2 <<MSG
podman network check FAILED: a container on a fresh podman network cannot resolve another
container by name (network backend: $backend, dns_enabled: $dns). The lab and the Molecule
scenarios need it. With the CNI backend install Debian's
golang-github-containernetworking-plugin-dnsname (make setup does), with netavark install
aardvark-dns; networks created before that keep dns_enabled false: remove them
(podman network rm mmha-lab) and run again.
MSG
exit 1

#!/usr/bin/env bash
# Build the Debian bookworm systemd images the Molecule scenarios and the local lab use.
# No registry is reachable, so the images are made from Debian packages with mmdebstrap
# and imported into podman. An image is rebuilt only when this script changes: the tag
# carries a hash of it, so a cached image is always one built by this exact recipe.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
mirror="${MATTERMOST_HA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
tag=$(sha256sum "$0" | cut -c1-12)

base_packages=systemd,systemd-sysv,dbus,python3,python3-apt,python3-psycopg2,sudo,iproute2,procps,iputils-ping,netcat-openbsd,ca-certificates,curl,locales

# name -> extra packages
declare -A extra=(
  [mattermost-ha-node]=postgresql-client-15,gnupg,tar,gzip,python3-yaml
  [mattermost-ha-postgres]=postgresql-15
  # The lab's load balancer (tests/lab): HAProxy 2.6 run as the container's command, no systemd.
  [mattermost-ha-lb]=haproxy
)

build() {
  local name=$1 image="localhost/$1:$tag"
  if podman image exists "$image"; then
    echo "image $image: cached"
  else
    make_image "$name" "$image"
  fi
  # Scenarios and the lab use :latest, always the image of this recipe.
  podman tag "$image" "localhost/$name:latest"
}

make_image() {
  local name=$1 image=$2
  local work
  work=$(mktemp -d)
  echo "image $image: building"
  # en_US.UTF-8 must exist: the Mattermost database is created with that collation.
  mmdebstrap --quiet --variant=apt --include="$base_packages,${extra[$name]}" \
    --customize-hook='echo "en_US.UTF-8 UTF-8" > "$1/etc/locale.gen"' \
    --customize-hook='chroot "$1" locale-gen' \
    --customize-hook='chroot "$1" systemctl mask systemd-logind.service getty.target console-getty.service systemd-udevd.service' \
    --customize-hook='rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"' \
    bookworm "$work/rootfs.tar" "$mirror"
  podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    "$work/rootfs.tar" "$image" >/dev/null
  rm -rf "$work"
  echo "image $image: built"
}

for name in "${!extra[@]}"; do
  build "$name"
done

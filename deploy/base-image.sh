#!/bin/sh
# Build the Debian 12 base image that deploy/Dockerfile.* start FROM, for
# engines that cannot pull it from a registry:
#
#   deploy/base-image.sh          build debian:bookworm unless it exists
#   deploy/base-image.sh --force  build it again (e.g. for security updates)
#
# It bootstraps a minimal Debian (mmdebstrap, variant minbase, straight from
# Debian's mirror, with bookworm-updates and bookworm-security) into a tar
# stream and `docker import`s it under the name the Dockerfiles use. Needs
# root (or unprivileged user namespaces) for mmdebstrap, and a Docker engine.
#
# Environment: BASE_IMAGE (default debian:bookworm), DEBIAN_MIRROR (default
# http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR (default
# http://deb.debian.org/debian-security), DOCKER (default docker).
set -eu

image=${BASE_IMAGE:-debian:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
docker=${DOCKER:-docker}

say() { printf 'base-image.sh: %s\n' "$*" >&2; }

force=no
case "${1:-}" in
"") ;;
--force) force=yes ;;
*)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac

if ! $docker version >/dev/null 2>&1; then
	say "no Docker engine answers ('$docker version' failed)"
	exit 1
fi
if [ $force = no ] && $docker image inspect "$image" >/dev/null 2>&1; then
	say "$image already exists ($($docker image inspect -f '{{.Id}} created {{.Created}}' "$image")); nothing to do"
	exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
	say "mmdebstrap is missing: apt-get install mmdebstrap (deploy/dev.sh deps installs it)"
	exit 1
fi

say "building $image: mmdebstrap --variant=minbase bookworm from $mirror, then docker import"
start=$(date +%s)
# The tar goes straight into the engine; pipefail is not POSIX, so each
# side's status is checked through a file.
status=$(mktemp)
trap 'rm -f "$status"' EXIT INT TERM
{
	mmdebstrap --variant=minbase --quiet \
		--aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		bookworm - \
		"deb $mirror bookworm main" \
		"deb $mirror bookworm-updates main" \
		"deb $security bookworm-security main" ||
		echo "mmdebstrap failed: $?" >"$status"
} | $docker import \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV LANG=C.UTF-8' \
	--change 'CMD ["bash"]' \
	--message "mmdebstrap --variant=minbase bookworm (deploy/base-image.sh)" \
	- "$image" >/dev/null
if [ -s "$status" ]; then
	say "$(cat "$status"); removing the partial $image"
	$docker image rm "$image" >/dev/null 2>&1 || true
	exit 1
fi
say "built $image in $(($(date +%s) - start)) s: $($docker image inspect -f '{{.Id}} {{.Size}} bytes' "$image")"

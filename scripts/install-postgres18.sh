#!/usr/bin/env bash
# Builds PostgreSQL 18, the major of the image the manifests name, into
# .tools/pg18 for the tests (./scripts/test.sh runs this).
#
#   ./scripts/install-postgres18.sh
#
# Debian 12 has no PostgreSQL 18 package, and the prebuilt 18.x servers on
# npm and PyPI lack lz4, which the generated `wal_compression = lz4` needs as
# the official image has it. So the source comes from Debian's own source
# package (unstable's postgresql-18; apt checks it against Debian's signed
# index) and is built with the image's compression and TLS libraries, plus
# the two contrib extensions the generated init script creates.
# A build that is already there and complete is kept.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

TOOLS_DIR=.tools
PG18_DIR=$TOOLS_DIR/pg18
SOURCE_PACKAGE=postgresql-18
SOURCE_SUITE=unstable
CONFIGURE_FLAGS=(--with-lz4 --with-zstd --with-openssl --with-icu --with-uuid=e2fs --without-readline)
CONTRIB=(uuid-ossp pgcrypto)

die() {
    printf '\nerror: %s\n' "$*" >&2
    exit 1
}

prefix=$ROOT/$PG18_DIR
build_stamp="$prefix ${CONFIGURE_FLAGS[*]} ${CONTRIB[*]}"
stamp_file=$PG18_DIR/.build

installed() {
    [[ -f $stamp_file && $(sed -n 2p "$stamp_file") == "$build_stamp" ]] &&
        "$PG18_DIR/bin/postgres" --version 2>/dev/null | grep -q '^postgres (PostgreSQL) 18\.'
}

if installed; then
    echo "installed: $(sed -n 1p "$stamp_file")"
    exit 0
fi

# A fresh clone has no .tools yet.
mkdir -p "$TOOLS_DIR"
work=$(mktemp -d "$ROOT/$TOOLS_DIR/pg18-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A private apt state, so the machine's own sources stay as they are.
apt_options=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SOURCE_SUITE main" \
    >"$work/sources.list"
apt-get "${apt_options[@]}" update -qq || die "apt-get update of Debian $SOURCE_SUITE's source index failed"
(cd "$work" && apt-get "${apt_options[@]}" source --download-only -qq "$SOURCE_PACKAGE") ||
    die "downloading Debian's source package $SOURCE_PACKAGE failed"
tarball=$(find "$work" -maxdepth 1 -name "${SOURCE_PACKAGE}_*.orig.tar.*" | sed -n 1p)
[[ -n $tarball ]] || die "no upstream tarball in Debian's source package $SOURCE_PACKAGE"
source_version=$(basename "$tarball" | sed -E "s/^${SOURCE_PACKAGE}_(.*)\.orig\.tar\..*$/\1/")
echo "building PostgreSQL $source_version (Debian $SOURCE_SUITE's $SOURCE_PACKAGE) with ${CONFIGURE_FLAGS[*]}"

mkdir "$work/src"
tar -xf "$tarball" -C "$work/src" --strip-components=1
jobs=$(nproc)
(
    cd "$work/src"
    ./configure --quiet --prefix="$prefix" "${CONFIGURE_FLAGS[@]}" >"$work/configure.log" 2>&1 ||
        { tail -n 30 "$work/configure.log" config.log >&2; exit 1; }
    {
        make -s -j"$jobs" &&
            for extension in "${CONTRIB[@]}"; do make -s -j"$jobs" -C "contrib/$extension"; done &&
            make -s install DESTDIR="$work/staging" &&
            for extension in "${CONTRIB[@]}"; do make -s -C "contrib/$extension" install DESTDIR="$work/staging"; done
    } >"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log" >&2; exit 1; }
) || die "building PostgreSQL $source_version failed (output above)"

rm -rf "$PG18_DIR"
mv "$work/staging$prefix" "$PG18_DIR"
printf '%s\n%s\n' "PostgreSQL $source_version from Debian $SOURCE_SUITE's $SOURCE_PACKAGE" "$build_stamp" >"$stamp_file"
installed || die "$PG18_DIR/bin/postgres does not run as PostgreSQL 18 after the build"
echo "installed: $(sed -n 1p "$stamp_file")"

#!/usr/bin/env bash
# The test command of palgen: installs what the tests need, then runs them all.
#
#   ./scripts/test.sh
#
# On a fresh Debian 12 machine (root, Rust toolchain, python3 with venv/pip,
# kubectl with kustomize v5) it installs:
#   - Debian packages: PostgreSQL (server + contrib), PgBouncer and the
#     Prometheus postgres_exporter, for the tests against the real programs;
#     git and tar, which `palgen plan --against REF` runs;
#   - a virtualenv at .venv with the pinned Python tools of
#     scripts/requirements-test.txt (kubernetes-validate, checkov).
# Each install step is skipped when it is already done, so a second run only
# runs the checks: cargo fmt, cargo clippy, cargo test.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

APT_PACKAGES=(postgresql postgresql-contrib pgbouncer prometheus-postgres-exporter git tar)
REQUIREMENTS=scripts/requirements-test.txt
VENV=.venv
PYTHON=${PYTHON:-python3}

section_start=$SECONDS
section() {
    local now=$SECONDS
    if [[ -n ${SECTION:-} ]]; then
        printf '    (%s: %ds)\n' "$SECTION" $((now - section_start))
    fi
    SECTION=$1
    section_start=$now
    printf '\n==> %s\n' "$1"
}

die() {
    printf '\nerror: %s\n' "$*" >&2
    exit 1
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "installing Debian packages needs root (or sudo): $*"
    fi
}

# ---------------------------------------------------------------------------
section "Debian packages: ${APT_PACKAGES[*]}"

missing=()
for package in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "all installed"
else
    echo "installing: ${missing[*]}"
    # Keep the packages' services from starting: the tests run their own
    # servers in temporary directories, and a packaged cluster on 5432 (or a
    # PgBouncer on 6432) is nothing but a port taken.
    policy=/usr/sbin/policy-rc.d
    created_policy=false
    if [[ ! -e $policy ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        created_policy=true
    fi
    restore_policy() {
        if [[ $created_policy == true ]]; then
            as_root rm -f "$policy"
        fi
    }
    trap restore_policy EXIT

    export DEBIAN_FRONTEND=noninteractive
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "${APT_PACKAGES[@]}" \
        >/dev/null

    restore_policy
    trap - EXIT
    created_policy=false

    # Whatever started anyway (a policy-rc.d that was already there and allows
    # starts, say): stop it.
    if command -v pg_lsclusters >/dev/null; then
        while read -r version cluster _port status _rest; do
            if [[ $status == online* ]]; then
                echo "stopping the packaged PostgreSQL cluster $version/$cluster"
                as_root pg_ctlcluster "$version" "$cluster" stop || true
            fi
        done < <(pg_lsclusters --no-header 2>/dev/null || true)
    fi
    for service in pgbouncer prometheus-postgres-exporter; do
        as_root service "$service" stop >/dev/null 2>&1 || true
    done
fi

# Debian keeps the server programs (initdb, pg_ctl, postgres) off PATH, in a
# versioned directory: put the newest installed one on PATH for the tests.
pg_bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
    sort -V | tail -n 1)
[[ -n $pg_bin && -x $pg_bin/initdb ]] || die "PostgreSQL server programs not found under /usr/lib/postgresql"
export PATH="$pg_bin:$PATH"
postgres_version=$("$pg_bin/postgres" --version)
pgbouncer_version=$(pgbouncer --version | head -n 1)
exporter_version=$(prometheus-postgres-exporter --version 2>&1 | head -n 1)
echo "$postgres_version; $pgbouncer_version; $exporter_version"

# ---------------------------------------------------------------------------
section "Python tools in $VENV ($REQUIREMENTS)"

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: Python 3 with venv and pip is needed"
stamp_file=$VENV/.requirements.sha256
stamp=$( { sha256sum "$REQUIREMENTS"; "$PYTHON" --version; } | sha256sum | cut -d' ' -f1)

if [[ -x $VENV/bin/python && -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
    echo "up to date"
else
    echo "creating $VENV and installing $REQUIREMENTS"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed: Python's venv module is needed (Debian: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input -r "$REQUIREMENTS"
    echo "$stamp" >"$stamp_file"
fi
kubernetes_validate_version=$("$VENV/bin/kubernetes-validate" --version)
checkov_version=$("$VENV/bin/checkov" --version)
echo "kubernetes-validate $kubernetes_validate_version, checkov $checkov_version"
# The tests look in .venv/bin first (tests/common tool()); PATH too, for
# anything that runs these tools by name.
export PATH="$ROOT/$VENV/bin:$PATH"

# ---------------------------------------------------------------------------
section "kubectl, rustfmt, clippy"

command -v kubectl >/dev/null ||
    die "kubectl is not installed. The tests run 'kubectl kustomize' (kustomize v5); install kubectl and run this again."
kubectl_version=$(kubectl version --client 2>&1) ||
    die "'kubectl version --client' failed:
$kubectl_version"
echo "$kubectl_version"
grep -q '^Kustomize Version: v5' <<<"$kubectl_version" ||
    die "kubectl must embed kustomize v5 (see 'kubectl version --client' above)"

cargo fmt --version >/dev/null 2>&1 || die "rustfmt is missing: rustup component add rustfmt"
cargo clippy --version >/dev/null 2>&1 || die "clippy is missing: rustup component add clippy"

# ---------------------------------------------------------------------------
section "cargo fmt --check"
cargo fmt --check

section "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

section "cargo test --all-targets"
# Snapshot mismatches fail and write nothing: snapshots change only when a
# developer refreshes them (see tests/snapshots.rs).
export INSTA_UPDATE=no
# --no-fail-fast: one run reports the failures of every test binary.
cargo test --all-targets --no-fail-fast

section "done"
echo "all checks passed in ${SECONDS}s"

#!/usr/bin/env bash
# The test command of palgen: installs what the tests need, then runs them all.
#
#   ./scripts/test.sh
#
# On a fresh Debian 12 machine (root, Rust toolchain, Go 1.26, python3 with
# venv/pip, kubectl with kustomize v5) it installs:
#   - Debian packages: PostgreSQL (server + contrib), PgBouncer, the
#     Prometheus postgres_exporter, barman-cli-cloud and rclone, for the tests
#     against the real programs, openssl, which makes the test servers' certificates
#     git and tar, which `palgen plan --against REF` runs (and
#     Node.js with npm where node is missing);
#   - PostgreSQL 18, built by scripts/install-postgres18.sh from Debian's
#     source package with lz4 like the official image (the Debian packages
#     below include its build tools and libraries), at .tools/pg18
#     (PALGEN_PG18_BIN tells the tests where);
#   - a virtualenv at .venv with the pinned Python tools of
#     scripts/requirements-test.txt (kubernetes-validate, checkov, moto);
#   - .tools/schema: the pinned npm packages of scripts/schema (CloudNativePG,
#     Barman Cloud and Prometheus Operator schemas, TypeScript);
#   - the npm packages of tests/cert-manager/package-lock.json (cert-manager's
#     CRD schemas);
#   - .tools/control-plane: a Kubernetes control plane built with Go from the
#     modules pinned under tests/control-plane (scripts/control-plane.sh), and
#     the operators' CRDs from their modules; it runs on loopback during
#     cargo test;
#   - .tools/control-plane/operators-*: the CloudNativePG operator, its
#     Barman Cloud plugin and cert-manager's controller, built with Go from
#     the modules pinned under tests/control-plane/operators
#     (scripts/operators.sh, which control-plane.sh build runs); the
#     operator tests start them;
#   - the Go modules of tests/cnpg-cron (robfig/cron v1 and v3).
# Each install step is skipped when it is already done, so a second run only
# runs the checks: cargo fmt, cargo clippy, cargo test.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

APT_PACKAGES=(postgresql postgresql-contrib pgbouncer prometheus-postgres-exporter barman-cli-cloud rclone openssl git tar)
# What scripts/install-postgres18.sh builds PostgreSQL 18 with.
APT_PACKAGES+=(gcc make bison flex pkg-config bzip2 zlib1g-dev libssl-dev liblz4-dev libzstd-dev libicu-dev uuid-dev)
# The schema tests run node; a machine that has it (from anywhere) keeps it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    APT_PACKAGES+=(nodejs npm)
fi
REQUIREMENTS=scripts/requirements-test.txt
VENV=.venv
SCHEMA_TOOLS=.tools/schema
PYTHON=${PYTHON:-python3}
PG18_DIR=.tools/pg18

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
pgbouncer_version=$(pgbouncer --version | sed -n 1p)
exporter_version=$(prometheus-postgres-exporter --version 2>&1 | sed -n 1p)
barman_version=$(barman-cloud-backup --version 2>&1 | sed -n 1p)
rclone_version=$(rclone version | sed -n 1p)
echo "$postgres_version; $pgbouncer_version; $exporter_version; barman-cloud-backup $barman_version; $rclone_version"

# ---------------------------------------------------------------------------
section "PostgreSQL 18 in $PG18_DIR (scripts/install-postgres18.sh)"

# Debian 12 has no PostgreSQL 18, the image's major: its server programs
# (initdb, pg_ctl, postgres, with lz4 like the image's) are built from
# source; the clients (psql, pg_isready) the tests run are Debian's.
./scripts/install-postgres18.sh
pg18_bin=$ROOT/$PG18_DIR/bin
# The tests run the servers as the OS user postgres: it must read and run
# everything here, whatever the umask was at install time.
chmod -R go+rX "$PG18_DIR"
if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- "$pg18_bin/postgres" --version >/dev/null ||
        die "the OS user postgres cannot run $pg18_bin/postgres: every directory above $ROOT must be searchable by others"
fi
for program in initdb pg_ctl postgres; do
    "$pg18_bin/$program" --version | grep -q " 18\." ||
        die "$pg18_bin/$program is not PostgreSQL 18"
done
"$pg18_bin/pg_config" --configure | grep -q -- '--with-lz4' ||
    die "$pg18_bin was built without lz4: remove $PG18_DIR and run this again"
export PALGEN_PG18_BIN=$pg18_bin
echo "$("$pg18_bin/postgres" --version) in PALGEN_PG18_BIN=$PALGEN_PG18_BIN"

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
"$VENV/bin/python" -c 'import moto' || die "moto is missing from $VENV: remove $VENV and run this again"
moto_version=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("moto"))')
echo "kubernetes-validate $kubernetes_validate_version, checkov $checkov_version, moto $moto_version"
# The tests look in .venv/bin first (tests/common tool()); PATH too, for
# anything that runs these tools by name.
export PATH="$ROOT/$VENV/bin:$PATH"

# ---------------------------------------------------------------------------
section "npm packages in $SCHEMA_TOOLS (scripts/schema)"

stamp_file=$SCHEMA_TOOLS/.package-lock.sha256
stamp=$( { sha256sum scripts/schema/package-lock.json; node --version; } | sha256sum | cut -d' ' -f1)
if [[ -d $SCHEMA_TOOLS/node_modules && -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
    echo "up to date"
else
    echo "installing scripts/schema/package-lock.json into $SCHEMA_TOOLS"
    rm -rf "$SCHEMA_TOOLS"
    mkdir -p "$SCHEMA_TOOLS"
    cp scripts/schema/package.json scripts/schema/package-lock.json "$SCHEMA_TOOLS/"
    (cd "$SCHEMA_TOOLS" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$stamp" >"$stamp_file"
fi
echo "node $(node --version); $(cd "$SCHEMA_TOOLS" && npm ls --depth=0 2>/dev/null | tail -n +2 | tr -d '\n')"

section "cert-manager schemas in tests/cert-manager (npm ci)"

# kubernetes-validate has no schema for cert-manager's kinds; the tests check
# them with cert-manager's CRD schemas from the pinned npm package.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "installing Debian packages nodejs npm"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 --no-install-recommends nodejs npm >/dev/null
fi
cert_manager_dir=tests/cert-manager
cert_manager_stamp=$cert_manager_dir/node_modules/.package-lock.sha256
cert_manager_sum=$(sha256sum "$cert_manager_dir/package-lock.json" | cut -d' ' -f1)
if [[ -f $cert_manager_stamp && $(cat "$cert_manager_stamp") == "$cert_manager_sum" ]]; then
    echo "up to date"
else
    (cd "$cert_manager_dir" && npm ci --silent --no-audit --no-fund)
    echo "$cert_manager_sum" >"$cert_manager_stamp"
fi
echo "node $(node --version), @kubernetes-models/cert-manager $(node -p 'require("./'$cert_manager_dir'/node_modules/@kubernetes-models/cert-manager/package.json").version')"

# ---------------------------------------------------------------------------
section "Kubernetes control plane and operators in .tools/control-plane (scripts/control-plane.sh build)"

# kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok,
# built from the Go modules pinned under tests/control-plane (no prebuilt
# binary), and the operators' CRDs from their modules.
command -v go >/dev/null ||
    die "go is not installed: the test control plane is built from Go modules (Go 1.26 or newer)"
go version
./scripts/control-plane.sh build

section "Go modules of tests/cnpg-cron (robfig/cron, as Kubernetes and CloudNativePG parse schedules)"
(cd tests/cnpg-cron && GOFLAGS=-buildvcs=false go mod download)

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

section "start the test control plane (scripts/control-plane.sh start)"
./scripts/control-plane.sh start
trap './scripts/control-plane.sh stop' EXIT
export PALGEN_TEST_KUBECONFIG=${PALGEN_CONTROL_PLANE_RUN:-$ROOT/.tools/control-plane/run}/kubeconfig

section "cargo test --all-targets"
# Snapshot mismatches fail and write nothing: snapshots change only when a
# developer refreshes them (see tests/snapshots.rs).
export INSTA_UPDATE=no
# --no-fail-fast: one run reports the failures of every test binary.
cargo test --all-targets --no-fail-fast

section "done"
echo "all checks passed in ${SECONDS}s"

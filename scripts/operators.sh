#!/usr/bin/env bash
# The operators palgen writes custom resources for, built from their upstream
# Go modules pinned under tests/control-plane/operators, for the operator
# tests (tests/operators.rs), which start them against the test control plane:
#
#   scripts/operators.sh build   # build (or reuse) them; prints the time taken
#   scripts/operators.sh dir     # where they are (fails when not built)
#
# What is built:
#   - the CloudNativePG operator (cmd/manager of its module; the tests run
#     `manager controller`, which serves its admission webhooks too), with the
#     webhook configuration its module ships (config/webhook/manifests.yaml);
#   - the Barman Cloud plugin of CloudNativePG (cmd/manager of its module;
#     the tests run `manager operator`);
#   - the cert-manager controller, wired from cert-manager's controller
#     packages by tests/control-plane/operators/cert-manager/main.go, because
#     the module proxy does not serve cert-manager's own cmd/controller module.
#
# They are cached under .tools/control-plane/operators-<hash of the pinned
# go.mod, go.sum and main.go files>, so a second build is a no-op; builds of
# other pins are removed. scripts/control-plane.sh build runs this.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

MODULES=tests/control-plane/operators
KEY=$(cat "$MODULES"/*/go.mod "$MODULES"/*/go.sum "$MODULES"/cert-manager/main.go | sha256sum | cut -c1-12)
DIR=$ROOT/.tools/control-plane/operators-$KEY

# The CloudNativePG operator hashes the instance manager it runs in its pods
# (itself) from operator/manager_<arch> under its working directory, as its
# image lays it out, and refuses to reconcile without one: the tests run it
# from cloudnative-pg/.
GOARCH=$(go env GOARCH 2>/dev/null || true)

# name, module folder, package built, the module whose version it is, where
OPERATORS=(
    "cloudnative-pg cloudnative-pg github.com/cloudnative-pg/cloudnative-pg/cmd/manager github.com/cloudnative-pg/cloudnative-pg cloudnative-pg/operator/manager_$GOARCH"
    "barman-cloud barman-cloud github.com/cloudnative-pg/plugin-barman-cloud/cmd/manager github.com/cloudnative-pg/plugin-barman-cloud barman-cloud"
    "cert-manager cert-manager . github.com/cert-manager/cert-manager cert-manager"
)

die() {
    printf 'operators: error: %s\n' "$*" >&2
    exit 1
}

module_dir() {
    local folder=$1 module=$2 dir
    dir=$(cd "$MODULES/$folder" && go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [[ -n $dir && -d $dir ]] || die "the module $module was not found"
    echo "$dir"
}

build() {
    command -v go >/dev/null || die "go is not installed: the operators are built from Go modules (Go 1.26 or newer)"
    if [[ -f $DIR/.complete ]]; then
        echo "operators: up to date in $DIR"
    else
        echo "building the operators into $DIR (a fresh machine takes several minutes)"
        local started=$SECONDS staging=$DIR.partial name folder package module output
        rm -rf "$staging"
        mkdir -p "$staging"
        for operator in "${OPERATORS[@]}"; do
            read -r name folder package module output <<<"$operator"
            local began=$SECONDS
            mkdir -p "$(dirname "$staging/$output")"
            (cd "$MODULES/$folder" && go build -o "$staging/$output" "$package") ||
                die "building the $name operator ($package in $MODULES/$folder) failed (see above)"
            echo "  $name: built in $((SECONDS - began))s"
        done
        cp "$(module_dir cloudnative-pg github.com/cloudnative-pg/cloudnative-pg)/config/webhook/manifests.yaml" \
            "$staging/cloudnative-pg-webhooks.yaml" ||
            die "the cloudnative-pg operator's webhook configuration was not found in its module"
        touch "$staging/.complete"
        rm -rf "$DIR"
        mv "$staging" "$DIR"
        echo "operators built in $((SECONDS - started))s"
        # Builds of other pins are dead weight (about 300MB each).
        find "$ROOT/.tools/control-plane" -mindepth 1 -maxdepth 1 -name 'operators-*' \
            ! -name "operators-$KEY" -exec rm -rf {} +
    fi
    for operator in "${OPERATORS[@]}"; do
        read -r name folder package module _ <<<"$operator"
        echo "  $name: $module $(cd "$MODULES/$folder" && go list -m -f '{{.Version}}' "$module")"
    done
}

dir() {
    [[ -f $DIR/.complete ]] || die "the operators are not built: run scripts/operators.sh build"
    echo "$DIR"
}

case ${1:-} in
build) build ;;
dir) dir ;;
*)
    echo "usage: scripts/operators.sh build|dir" >&2
    exit 2
    ;;
esac

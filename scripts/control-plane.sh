#!/usr/bin/env bash
# The Kubernetes control plane the cluster tests apply palgen's overlays to,
# built from the upstream Go modules pinned under tests/control-plane:
#
#   scripts/control-plane.sh build   # build (or reuse) the binaries and the
#                                    # operators (scripts/operators.sh), fetch the CRDs
#   scripts/control-plane.sh start   # start it on loopback; prints KUBECONFIG=...
#   scripts/control-plane.sh stop    # stop it and remove its state
#
# What runs: etcd, kube-apiserver (PodSecurity and PersistentVolumeClaimResize
# admission on, as on a real cluster), kube-controller-manager, kube-scheduler
# and kwok, which keeps three fake nodes in three zones Ready and marks the pods
# bound to them Running. There is no kubelet and no container runtime: no
# container ever starts.
#
# Binaries are cached under .tools/control-plane/<key>, the key being the
# Kubernetes version and a hash of the pinned go.mod and go.sum files, so a
# second build is a no-op. Everything listens on 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

KUBERNETES_VERSION=v1.37.2
MODULES=tests/control-plane
# The version a release build stamps in, so the server reports it to kubectl
# and to operators that check it.
VERSION_PACKAGE=k8s.io/component-base/version
LDFLAGS="-X $VERSION_PACKAGE.gitVersion=$KUBERNETES_VERSION -X $VERSION_PACKAGE.gitTreeState=clean"
LDFLAGS+=" -X $VERSION_PACKAGE.gitMajor=$(cut -d. -f1 <<<"${KUBERNETES_VERSION#v}")"
LDFLAGS+=" -X $VERSION_PACKAGE.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
KEY=$KUBERNETES_VERSION-$( { cat "$MODULES"/{kubernetes,kwok}/go.{mod,sum} "$MODULES"/kubernetes/cmd/etcd/main.go; echo "$LDFLAGS"; } | sha256sum | cut -c1-12)
CRDS_KEY=$(cat "$MODULES"/crds/go.{mod,sum} | sha256sum | cut -c1-12)
BIN=$ROOT/.tools/control-plane/$KEY
# PALGEN_CONTROL_PLANE_RUN lets two checkouts that share .tools run a control
# plane each (with their own ports).
RUN=${PALGEN_CONTROL_PLANE_RUN:-$ROOT/.tools/control-plane/run}
CRDS=$ROOT/.tools/control-plane/crds-$CRDS_KEY

ETCD_CLIENT_PORT=${PALGEN_ETCD_PORT:-23790}
ETCD_PEER_PORT=$((ETCD_CLIENT_PORT + 10))
APISERVER_PORT=${PALGEN_APISERVER_PORT:-16443}

die() {
    printf 'control-plane: error: %s\n' "$*" >&2
    exit 1
}

build() {
    command -v go >/dev/null || die "go is not installed: the control plane is built from Go modules (Go 1.26 or newer)"
    if [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -x $BIN/kube-scheduler && -x $BIN/etcd && -x $BIN/kwok && -s $BIN/kwok-stages.yaml ]]; then
        echo "control plane $KUBERNETES_VERSION: up to date in $BIN"
    else
        echo "building the control plane $KUBERNETES_VERSION into $BIN (a fresh machine takes several minutes)"
        local started=$SECONDS staging=$BIN.partial
        rm -rf "$staging"
        mkdir -p "$staging"
        (cd "$MODULES/kubernetes" && go build -ldflags "$LDFLAGS" -o "$staging/" tool ./cmd/etcd) ||
            die "building kube-apiserver, kube-controller-manager, kube-scheduler and etcd failed (see above)"
        (cd "$MODULES/kwok" && go build -o "$staging/" tool) ||
            die "building kwok failed (see above)"
        kwok_stages >"$staging/kwok-stages.yaml"
        rm -rf "$BIN"
        mv "$staging" "$BIN"
        echo "built in $((SECONDS - started))s"
        # Builds of other versions or pins are dead weight (about 500MB each).
        find "$ROOT/.tools/control-plane" -mindepth 1 -maxdepth 1 \( -name 'v*' -o -name 'crds-*' \) \
            ! -name "$KEY" ! -name "crds-$CRDS_KEY" -exec rm -rf {} +
    fi
    "$BIN/kube-apiserver" --version
    crds
    # The operators that judge palgen's custom resources (CloudNativePG, its
    # Barman Cloud plugin, cert-manager): cached on their own key.
    ./scripts/operators.sh build
}

# kwok's own stages, as its module ships them: nodes become Ready and renew
# their leases; pods bound to them become Ready, complete or go away.
kwok_stages() {
    local dir stage
    dir=$(cd "$MODULES/kwok" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [[ -n $dir ]] || die "the kwok module was not found"
    for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
        pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
        [[ -f $dir/kustomize/stage/$stage.yaml ]] || die "kwok stage $stage not found in $dir"
        echo "---"
        cat "$dir/kustomize/stage/$stage.yaml"
    done
}

# The CustomResourceDefinitions of every custom resource palgen emits, as the
# operators' own modules ship them, at the versions tests/control-plane/crds
# pins (and the README names).
crds() {
    if [[ -f $CRDS/.complete ]]; then
        echo "CRDs: up to date in $CRDS"
        return
    fi
    local staging=$CRDS.partial module dir
    rm -rf "$staging"
    mkdir -p "$staging"
    while read -r module subdir; do
        dir=$(cd "$MODULES/crds" && go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
        [[ -n $dir && -d $dir/$subdir ]] || die "CRDs of $module not found in its module ($subdir)"
        cp "$dir/$subdir"/*.yaml "$staging/"
        echo "CRDs of $module from $subdir"
    done < <(sed -n 's|^// crds: \([^ ]*\) \(.*\)$|\1 \2|p' "$MODULES/crds/go.mod")
    rm -f "$staging"/kustomization.yaml
    touch "$staging/.complete"
    rm -rf "$CRDS"
    mv "$staging" "$CRDS"
}

certificates() {
    local pki=$RUN/pki
    mkdir -p "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=palgen-test-ca \
        -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=palgen-test-admin" \
        -keyout "$pki/admin.key" -out "$pki/admin.csr" 2>/dev/null
    openssl x509 -req -in "$pki/admin.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 2 -out "$pki/admin.crt" 2>/dev/null
    openssl genrsa -out "$pki/service-account.key" 2048 2>/dev/null
    openssl rsa -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub" 2>/dev/null
    cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: palgen-test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $RUN/apiserver/apiserver.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: palgen-test
  context:
    cluster: palgen-test
    user: admin
current-context: palgen-test
EOF
}

spawn() {
    local name=$1
    shift
    # setsid: stop kills the whole group, children included.
    setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

wait_for() {
    local what=$1 tries=$2
    shift 2
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    die "$what did not come up; its log is in $RUN"
}

start() {
    [[ -x $BIN/kube-apiserver ]] || die "the control plane is not built: run scripts/control-plane.sh build"
    stop >/dev/null 2>&1 || true
    for port in $ETCD_CLIENT_PORT $ETCD_PEER_PORT $APISERVER_PORT; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port $port on 127.0.0.1 is taken (set PALGEN_ETCD_PORT / PALGEN_APISERVER_PORT to move it)"
        fi
    done
    mkdir -p "$RUN"
    certificates

    spawn etcd "$BIN/etcd" --data-dir "$RUN/etcd" --name palgen-test \
        --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "palgen-test=http://127.0.0.1:$ETCD_PEER_PORT" \
        --unsafe-no-fsync --log-level warn
    wait_for etcd 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ETCD_CLIENT_PORT"

    spawn kube-apiserver "$BIN/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
        --endpoint-reconciler-type none \
        --cert-dir "$RUN/apiserver" \
        --client-ca-file "$RUN/pki/ca.crt" \
        --authorization-mode Node,RBAC \
        --enable-admission-plugins PodSecurity,PersistentVolumeClaimResize \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$RUN/pki/service-account.pub" \
        --service-account-signing-key-file "$RUN/pki/service-account.key" \
        --service-cluster-ip-range 10.96.0.0/16 \
        --allow-privileged=false
    wait_for kube-apiserver 240 kubectl --kubeconfig "$RUN/kubeconfig" get --raw /readyz

    # kwok renews the fake nodes' leases; on a loaded 2-CPU machine a renewal
    # can come late, and a node marked NotReady for that would mark its pods
    # unready for good (kwok readies a pod once). A long grace period keeps
    # the nodes' health out of the tests' way.
    spawn kube-controller-manager "$BIN/kube-controller-manager" \
        --kubeconfig "$RUN/kubeconfig" --authentication-kubeconfig "$RUN/kubeconfig" \
        --authorization-kubeconfig "$RUN/kubeconfig" \
        --bind-address 127.0.0.1 --secure-port 0 \
        --service-account-private-key-file "$RUN/pki/service-account.key" \
        --root-ca-file "$RUN/pki/ca.crt" \
        --use-service-account-credentials \
        --node-monitor-grace-period 10m \
        --leader-elect=false
    spawn kube-scheduler "$BIN/kube-scheduler" \
        --kubeconfig "$RUN/kubeconfig" --authentication-kubeconfig "$RUN/kubeconfig" \
        --authorization-kubeconfig "$RUN/kubeconfig" \
        --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
    spawn kwok "$BIN/kwok" --kubeconfig "$RUN/kubeconfig" --config "$BIN/kwok-stages.yaml" \
        --manage-all-nodes=false \
        --manage-nodes-with-label-selector=type=kwok \
        --node-ip 127.0.0.1 --node-port 0 --server-address 127.0.0.1:0 \
        --cidr 10.244.0.1/16
    nodes
    install_crds
    echo "KUBECONFIG=$RUN/kubeconfig"
}

# Three nodes in three zones, as a regional cluster has them; kwok keeps them
# Ready.
nodes() {
    local zone
    for zone in a b c; do
        kubectl --kubeconfig "$RUN/kubeconfig" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: node-$zone
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: node-$zone
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/region: test
    topology.kubernetes.io/zone: test-$zone
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "250", ephemeral-storage: 1Ti}
  capacity: {cpu: "64", memory: 256Gi, pods: "250", ephemeral-storage: 1Ti}
EOF
    done
    wait_for "three Ready nodes" 120 bash -c \
        "[[ \$(kubectl --kubeconfig '$RUN/kubeconfig' get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}' | grep -c True) == 3 ]]"
}

install_crds() {
    kubectl --kubeconfig "$RUN/kubeconfig" apply --server-side -f "$CRDS" >/dev/null
    kubectl --kubeconfig "$RUN/kubeconfig" wait --for condition=Established --timeout 120s crd --all >/dev/null
}

stop() {
    local name pid
    for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
        if [[ -f $RUN/$name.pid ]]; then
            pid=$(cat "$RUN/$name.pid")
            kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        fi
    done
    for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
        if [[ -f $RUN/$name.pid ]]; then
            pid=$(cat "$RUN/$name.pid")
            for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 -- -"$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$RUN"
}

case ${1:-} in
build) build ;;
start) start ;;
stop) stop ;;
*)
    echo "usage: scripts/control-plane.sh build|start|stop" >&2
    exit 2
    ;;
esac

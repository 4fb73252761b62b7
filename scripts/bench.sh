#!/usr/bin/env bash
# The benchmark of palgen: wall time (median over many runs) and peak memory
# of its commands on this machine, against the targets of the Performance
# requirement, with `kubectl kustomize` as the reference. Run by hand:
#
#   ./scripts/bench.sh
#
# What it measures, each in a temporary directory (removed on exit), with the
# release binary (target/release/palgen, built first):
#   - palgen render --all        steady state: into a directory that already
#                                holds the tree (what re-running it sees);
#                                cold: into a fresh, empty directory each run
#   - palgen check               on an up-to-date tree
#   - palgen build --profile aws-large
#   - kubectl kustomize DIR/overlays/aws-large, DIR the generated tree (the
#     reference for build)
#   - palgen --profiles-dir PDIR render --all, with PDIR holding 10, 100 and
#     1000 generated user profiles (p0001.yaml ...: `extends:` cycling over
#     the built-in profiles, some over the previous user profile, and varied
#     overrides); steady state and cold. --all renders the 12 built-in
#     overlays as well.
#
# Wall time: hyperfine (--warmup, --runs, --export-json), reported as median,
# min and max; the machine may be shared and noisy, so only medians count.
# Peak memory: GNU time (`/usr/bin/time -v`, maximum resident set size), the
# largest of PEAK_RUNS runs.
#
# Targets: render --all and check <= 10 ms median; build >= 40x faster than
# kubectl kustomize (median over median); 1000 profiles <= 1 s and linear
# (the time per added profile from 100 to 1000 at most 1.5x that from 10 to
# 100); peak memory <= 20 MiB for every palgen command.
#
# Needs: a Rust toolchain, python3, kubectl (with kustomize v5); installs the
# Debian packages hyperfine and time when they are missing (root or sudo).
# Environment: RUNS (default 30), WARMUP (3), BIG_RUNS (runs for the
# 1000-profile and cold cases, default 10), COLD_BIG_RUNS (runs for the cold
# 1000-profile case, default 5), PEAK_RUNS (5), PROFILE_COUNTS ("10 100 1000";
# the linearity check compares the first step with the last).
# Exit status: 0 when the benchmark ran (targets met or not), 1 when it
# could not run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
BIG_RUNS=${BIG_RUNS:-10}
COLD_BIG_RUNS=${COLD_BIG_RUNS:-5}
PEAK_RUNS=${PEAK_RUNS:-5}
read -r -a PROFILE_COUNTS <<<"${PROFILE_COUNTS:-10 100 1000}"
BUILD_PROFILE=aws-large
BUILTIN_PROFILES=(dev-small dev-medium dev-large aws-small aws-medium aws-large
    gcp-small gcp-medium gcp-large azure-small azure-medium azure-large)

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

section() {
    printf '\n==> %s\n' "$1"
}

# ---------------------------------------------------------------------------
section "tools"

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[[ -x /usr/bin/time ]] || missing+=(time)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed to summarise the results"
command -v kubectl >/dev/null || die "kubectl (with kustomize v5) is needed for the reference"
[[ $(/usr/bin/time -v true 2>&1) == *"Maximum resident set size"* ]] ||
    die "/usr/bin/time is not GNU time (Debian package 'time')"
echo "$(hyperfine --version); $(kubectl version --client 2>&1 | tr '\n' ' ')"
echo "$(nproc) CPUs; $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "palgen at $(git describe --always --dirty 2>/dev/null || echo 'unknown revision')"

section "cargo build --release"
cargo build --release --quiet
PALGEN=$ROOT/target/release/palgen
[[ -x $PALGEN ]] || die "$PALGEN was not built"

# ---------------------------------------------------------------------------
# Everything runs in WORK, a temporary directory without a ./profiles, so the
# built-in catalog alone is what `render --all` sees unless --profiles-dir says
# otherwise.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/palgen-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir results

# generate_profiles N DIR: N user profiles p0001.yaml ... pNNNN.yaml.
generate_profiles() {
    local count=$1 dir=$2 i parent
    mkdir -p "$dir"
    for ((i = 1; i <= count; i++)); do
        parent=${BUILTIN_PROFILES[$(((i - 1) % ${#BUILTIN_PROFILES[@]}))]}
        # Every seventh extends the previous user profile: chains resolve too.
        if ((i % 7 == 0)); then
            printf -v parent 'p%04d' $((i - 1))
        fi
        {
            printf 'extends: %s\n' "$parent"
            printf 'description: generated benchmark profile %d\n' "$i"
            case $((i % 5)) in
            0) printf 'storage:\n  size: %dGi\n' $((100 + i)) ;;
            1) printf 'backup:\n  schedule: "%d %d * * *"\n  retention_days: %d\n' \
                $((i % 60)) $((i % 24)) $((1 + i % 30)) ;;
            2) printf 'image: postgres:18.1@sha256:%064x\n' "$i" ;;
            3) printf 'resources:\n  requests:\n    memory: 1Gi\n    cpu: 500m\n  limits:\n    memory: %dGi\n    cpu: 2000m\n' \
                $((2 + i % 6)) ;;
            4) printf 'monitoring:\n  exporter: false\npostgres:\n  slow_query_ms: %d\n' \
                $((250 + i)) ;;
            esac
        } >"$dir/$(printf 'p%04d.yaml' "$i")"
    done
}

# bench NAME RUNS [hyperfine options...] COMMAND: hyperfine into results/NAME.json.
bench() {
    local name=$1 runs=$2
    shift 2
    hyperfine --style basic --warmup "$WARMUP" --runs "$runs" --shell=none \
        --export-json "results/$name.json" --command-name "$name" "$@" |
        sed -n '/Time (mean/,/Range/p'
}

# peak NAME PREPARE COMMAND...: the largest maximum RSS (KiB) of PEAK_RUNS
# runs into results/NAME.rss; PREPARE (if not empty) runs before each.
peak() {
    local name=$1 prepare=$2 i rss max=0
    shift 2
    for ((i = 0; i < PEAK_RUNS; i++)); do
        [[ -z $prepare ]] || $prepare
        /usr/bin/time -v -o results/time.txt "$@" >/dev/null
        rss=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' results/time.txt)
        if ((rss > max)); then max=$rss; fi
    done
    echo "$max" >"results/$name.rss"
}

# measure NAME RUNS COMMAND... [-- PREPARE]: wall time and peak memory. A cold
# case passes its preparation (emptying the output directory), which runs
# before every timed run and every peak-memory run, untimed.
measure() {
    local name=$1 runs=$2 prepare=
    shift 2
    local command=()
    while [[ $# -gt 0 && $1 != -- ]]; do
        command+=("$1")
        shift
    done
    if [[ ${1:-} == -- ]]; then prepare=$2; fi
    printf -- '-- %s: %s\n' "$name" "${command[*]}"
    echo "$name" >>results/order
    local options=()
    if [[ -n $prepare ]]; then options=(--prepare "$prepare"); fi
    bench "$name" "$runs" "${options[@]}" "${command[*]}"
    peak "$name" "$prepare" "${command[@]}"
}

# ---------------------------------------------------------------------------
section "built-in profiles (12 overlays)"

"$PALGEN" render --all --out tree >/dev/null
kubectl kustomize "tree/overlays/$BUILD_PROFILE" >/dev/null ||
    die "kubectl kustomize tree/overlays/$BUILD_PROFILE failed"

measure "render --all" "$RUNS" "$PALGEN" render --all --out tree
measure "render --all (cold)" "$BIG_RUNS" "$PALGEN" render --all --out cold -- "rm -rf $WORK/cold"
measure "check" "$RUNS" "$PALGEN" check --out tree
measure "build --profile $BUILD_PROFILE" "$RUNS" "$PALGEN" build --profile "$BUILD_PROFILE"
measure "kubectl kustomize" "$RUNS" kubectl kustomize "tree/overlays/$BUILD_PROFILE"

# ---------------------------------------------------------------------------
for count in "${PROFILE_COUNTS[@]}"; do
    section "$count user profiles (+ 12 built-in overlays)"
    pdir=profiles-$count
    generate_profiles "$count" "$pdir"
    "$PALGEN" --profiles-dir "$pdir" render --all --out "tree-$count" >/dev/null
    "$PALGEN" --profiles-dir "$pdir" check --out "tree-$count" >/dev/null ||
        die "check reports drift right after render with $count profiles"
    runs=$RUNS
    if ((count >= 1000)); then runs=$BIG_RUNS; fi
    measure "render $count profiles" "$runs" \
        "$PALGEN" --profiles-dir "$pdir" render --all --out "tree-$count"
    cold=("$PALGEN" --profiles-dir "$pdir" render --all --out "cold-$count" -- "rm -rf $WORK/cold-$count")
    if ((count >= 1000)); then
        # ~15,000 files, each written with an fsync: a run can take a minute
        # or more on a slow disk. Fewer runs, no warmup, one peak-memory run.
        WARMUP=0 PEAK_RUNS=1 measure "render $count profiles (cold)" "$COLD_BIG_RUNS" "${cold[@]}"
    else
        measure "render $count profiles (cold)" "$BIG_RUNS" "${cold[@]}"
    fi
    rm -rf "cold-$count"
done

# ---------------------------------------------------------------------------
section "results"

BUILD_PROFILE=$BUILD_PROFILE PROFILE_COUNTS="${PROFILE_COUNTS[*]}" python3 - results <<'PY'
import json, os, pathlib, statistics, sys

results = pathlib.Path(sys.argv[1])
order = (results / "order").read_text().splitlines()
rows = {}
for name in order:
    result = json.loads((results / f"{name}.json").read_text())["results"][0]
    times = [t * 1000 for t in result["times"]]
    rss_file = results / f"{name}.rss"
    rss = int(rss_file.read_text()) / 1024 if rss_file.exists() else None
    rows[name] = dict(median=statistics.median(times), min=min(times), max=max(times),
                      runs=len(times), rss=rss)

width = max(len(n) for n in order)
print(f"{'command':<{width}}  {'median ms':>10}  {'min ms':>9}  {'max ms':>9}  {'runs':>4}  {'peak RSS MiB':>12}")
for name in order:
    r = rows[name]
    rss = f"{r['rss']:.1f}" if r["rss"] is not None else "-"
    print(f"{name:<{width}}  {r['median']:>10.2f}  {r['min']:>9.2f}  {r['max']:>9.2f}  {r['runs']:>4}  {rss:>12}")

verdicts = []
def target(ok, text):
    verdicts.append(ok)
    print(f"  [{'met' if ok else 'MISSED'}] {text}")

print("\ntargets")
for name in ["render --all", "check"]:
    m = rows[name]["median"]
    target(m <= 10, f"{name}: median {m:.2f} ms <= 10 ms")
build = rows[f"build --profile {os.environ['BUILD_PROFILE']}"]["median"]
reference = rows["kubectl kustomize"]["median"]
target(reference / build >= 40,
       f"build: kubectl kustomize / palgen build = {reference:.2f} / {build:.2f} ms = {reference / build:.1f}x >= 40x")
counts = [int(c) for c in os.environ["PROFILE_COUNTS"].split()]
builtin = 12  # --all renders the built-in overlays as well
for kind in ["", " (cold)"]:
    med = {c: rows[f"render {c} profiles{kind}"]["median"] for c in counts}
    per = ", ".join(f"{c}: {med[c] / (c + builtin):.3f}" for c in counts)
    print(f"  render N profiles{kind}: ms per overlay, median / (N + {builtin}): {per}")
    slopes = [(med[b] - med[a]) / (b - a) for a, b in zip(counts, counts[1:])]
    steps = ", ".join(f"{a}->{b}: {s:.3f}" for (a, b), s in zip(zip(counts, counts[1:]), slopes))
    print(f"  render N profiles{kind}: ms per added profile: {steps}")
    big = counts[-1]
    target(med[big] <= 1000, f"render {big} profiles{kind}: median {med[big]:.1f} ms <= 1000 ms")
    target(slopes[-1] <= 1.5 * slopes[0],
           f"render N profiles{kind} linear: {slopes[-1]:.3f} <= 1.5 x {slopes[0]:.3f} ms per added profile")
peak = {n: r["rss"] for n, r in rows.items() if r["rss"] is not None and n != "kubectl kustomize"}
over = [f"{n} {m:.1f}" for n, m in peak.items() if m > 20]
worst = max(peak, key=peak.get)
target(not over, f"peak memory <= 20 MiB for every palgen command: largest {peak[worst]:.1f} MiB ({worst})"
       + (f"; over: {', '.join(over)}" if over else ""))
print(f"\n{sum(verdicts)} of {len(verdicts)} targets met")
print(f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}")
PY

#!/usr/bin/env bash
# The benchmark of palgen: wall time (median over many runs) and peak memory
# of its commands on this machine, against the targets of the Performance
# requirement, side by side with `kubectl kustomize` as the reference.
#
#   ./scripts/bench.sh            full run: prints the results and the
#                                 targets, and rewrites the table in
#                                 docs/performance.md
#   ./scripts/bench.sh --short    CI: render --all (up to date) against one
#                                 kubectl kustomize build, a few runs each;
#                                 fails unless palgen is at least 15x faster
#
# What it measures, each in a temporary directory (removed on exit), with the
# release binary (target/release/palgen, built first):
#   - palgen render --all        steady state: into a directory that already
#                                holds the tree (what re-running it sees);
#                                cold: into a fresh, empty directory each run
#   - palgen check               on an up-to-date tree
#   - palgen build --profile aws-large
#   - kubectl kustomize DIR/overlays/aws-large, DIR the generated tree (the
#     reference: every palgen command is also printed as a ratio to it)
#   - with PDIR holding 10, 100 and 1000 generated user profiles
#     (p0001.yaml ...: `extends:` cycling over the built-in profiles, some
#     over the previous user profile, and varied sizes, storage and other
#     overrides): palgen --profiles-dir PDIR render --all (steady state and
#     cold), check and plan --all. --all covers the 12 built-in overlays too.
#
# Wall time: hyperfine (--warmup, --runs, --export-json), reported as median,
# min and max; the machine may be shared and noisy, so only medians count,
# and the CI gate is a ratio of medians measured in the same run.
# Peak memory: GNU time (`/usr/bin/time -v`, maximum resident set size), the
# largest of PEAK_RUNS runs.
#
# Targets: render --all (up to date) and check <= 8 ms median; render --all
# into an empty directory <= 12 ms; build <= 3.5 ms; peak memory <= 10 MiB
# for the built-in profiles; 1000 profiles: render <= 1 s cold and <= 0.5 s
# up to date, check and plan --all <= 1 s each; memory at most linear in the
# number of profiles (1000 profiles <= 10 x the memory of 100).
#
# The full run rewrites the table between the bench markers of
# docs/performance.md, with a fingerprint of the table in the end marker;
# tests/performance_doc.rs checks that the table has exactly this script's
# shape and still matches its fingerprint (a hand edit does not).
#
# Needs: a Rust toolchain, python3, kubectl (with kustomize v5); installs the
# Debian packages hyperfine and time when they are missing (root or sudo).
# Environment: RUNS (default 30; 10 in short mode), WARMUP (3), BIG_RUNS
# (runs for the 1000-profile and cold cases, default 10), COLD_BIG_RUNS (runs
# for the cold 1000-profile case, default 5), PEAK_RUNS (5), PROFILE_COUNTS
# ("10 100 1000"), MIN_RATIO (15: the short mode's gate).
# Exit status: 0 when the benchmark ran (in short mode: and the ratio was
# met), 1 when it could not run or the short mode's ratio was missed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

SHORT=false
if [[ ${1:-} == --short ]]; then
    SHORT=true
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--short]" >&2
    exit 1
fi
if [[ $SHORT == true ]]; then RUNS=${RUNS:-10}; fi
RUNS=${RUNS:-30}
MIN_RATIO=${MIN_RATIO:-15}
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
REVISION=$(git describe --always --dirty 2>/dev/null || echo 'unknown revision')
echo "palgen at $REVISION"

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

if [[ $SHORT == true ]]; then
    echo "-- short mode: render --all (up to date) against kubectl kustomize, $RUNS runs each"
    bench "render --all" "$RUNS" "$PALGEN render --all --out tree"
    bench "kubectl kustomize" "$RUNS" "kubectl kustomize tree/overlays/$BUILD_PROFILE"
    MIN_RATIO=$MIN_RATIO python3 - results <<'PY'
import json, os, pathlib, statistics, sys

results = pathlib.Path(sys.argv[1])
median = {name: statistics.median(json.loads((results / f"{name}.json").read_text())["results"][0]["times"]) * 1000
          for name in ["render --all", "kubectl kustomize"]}
ratio = median["kubectl kustomize"] / median["render --all"]
minimum = float(os.environ["MIN_RATIO"])
verdict = "met" if ratio >= minimum else "MISSED"
print(f"render --all {median['render --all']:.2f} ms, kubectl kustomize {median['kubectl kustomize']:.2f} ms: "
      f"{ratio:.1f}x faster [{verdict}: >= {minimum:g}x]")
sys.exit(0 if ratio >= minimum else 1)
PY
    exit $?
fi

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
    measure "check $count profiles" "$runs" \
        "$PALGEN" --profiles-dir "$pdir" check --out "tree-$count"
    measure "plan --all $count profiles" "$runs" \
        "$PALGEN" --profiles-dir "$pdir" plan --all --out "tree-$count"
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

BUILD_PROFILE=$BUILD_PROFILE PROFILE_COUNTS="${PROFILE_COUNTS[*]}" DOC="$ROOT/docs/performance.md" \
    REVISION=$REVISION python3 - results <<'PY'
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
    return "met" if ok else "missed"

reference = rows["kubectl kustomize"]["median"]
print(f"\nratios: kubectl kustomize overlays/{os.environ['BUILD_PROFILE']} ({reference:.2f} ms) / palgen command")
for name in order:
    if name != "kubectl kustomize":
        rows[name]["ratio"] = reference / rows[name]["median"]
        print(f"  {name:<{width}}  {rows[name]['ratio']:>8.1f}x")

print("\ntargets")
goals = {}
for name, limit in [("render --all", 8), ("check", 8), ("render --all (cold)", 12),
                    (f"build --profile {os.environ['BUILD_PROFILE']}", 3.5)]:
    m = rows[name]["median"]
    goals[name] = target(m <= limit, f"{name}: median {m:.2f} ms <= {limit:g} ms") + f", <= {limit:g} ms"
counts = [int(c) for c in os.environ["PROFILE_COUNTS"].split()]
big = counts[-1]
for name, limit in [(f"render {big} profiles", 500), (f"render {big} profiles (cold)", 1000),
                    (f"check {big} profiles", 1000), (f"plan --all {big} profiles", 1000)]:
    m = rows[name]["median"]
    goals[name] = target(m <= limit, f"{name}: median {m:.1f} ms <= {limit} ms") + f", <= {limit} ms"
builtin_names = ["render --all", "render --all (cold)", "check", f"build --profile {os.environ['BUILD_PROFILE']}"]
worst = max(builtin_names, key=lambda n: rows[n]["rss"])
goals["memory"] = target(rows[worst]["rss"] <= 10,
                         f"peak memory, built-in profiles: largest {rows[worst]['rss']:.1f} MiB ({worst}) <= 10 MiB")
if len(counts) > 1:
    small = counts[-2]
    for kind in ["render", "check", "plan --all"]:
        a, b = rows[f"{kind} {small} profiles"]["rss"], rows[f"{kind} {big} profiles"]["rss"]
        target(b <= a * big / small,
               f"{kind} memory at most linear: {b:.1f} MiB at {big} <= {big // small} x {a:.1f} MiB at {small}")
print(f"\n{sum(verdicts)} of {len(verdicts)} targets met")
load = " ".join(open("/proc/loadavg").read().split()[:3])
print(f"load average at the end: {load}")

# The table of docs/performance.md, between its markers, fingerprinted so
# that tests/performance_doc.rs can tell it from a hand edit.
import hashlib, re
lines = [f"Measured by `scripts/bench.sh` at {os.environ['REVISION']}: {os.cpu_count()} CPUs, "
         f"load average {load} at the end; medians.",
         "",
         "| command | median ms | min ms | max ms | runs | peak RSS MiB | kubectl kustomize / palgen | target |",
         "|---|---|---|---|---|---|---|---|"]
for name in order:
    r = rows[name]
    ratio = f"{r['ratio']:.1f}x" if "ratio" in r else "reference"
    lines.append(f"| `{name}` | {r['median']:.2f} | {r['min']:.2f} | {r['max']:.2f} | {r['runs']} | "
                 f"{r['rss']:.1f} | {ratio} | {goals.get(name, '')} |")
lines.append(f"| peak memory, built-in profiles | | | | | {rows[worst]['rss']:.1f} | | {goals['memory']}, <= 10 MiB |")
table = "\n".join(lines) + "\n"
fingerprint = hashlib.sha256(table.encode()).hexdigest()[:16]
doc = pathlib.Path(os.environ["DOC"])
text = doc.read_text()
pattern = re.compile(r"<!-- bench:begin -->\n.*<!-- bench:end [0-9a-f]+ -->\n", re.S)
if not pattern.search(text):
    sys.exit(f"{doc}: no bench markers to write the table between")
doc.write_text(pattern.sub(lambda _: f"<!-- bench:begin -->\n{table}<!-- bench:end {fingerprint} -->\n", text))
print(f"wrote the table into {doc}")
PY

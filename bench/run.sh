#!/usr/bin/env bash
# Every performance claim in one command: builds the release binaries once, then runs
#   bench/redirect.sh  the referral redirect vs a bare actix-web 302, clicks lost, click write rate
#   bench/ingest.sh    billing event ingest (POST /api/v1/events), then `ledger verify`
#   bench/scale.sh     every API route, dashboard and portal page at scale, payout runs, peak RSS
# on a fresh SQLite database, and again on PostgreSQL when DATABASE_URL is a postgres:// URL
# (each script creates a fresh database on that server and drops it afterwards). Prints one
# table (figure, target, measured, met or the gap) and writes bench/results/latest.json.
#
#   bash bench/run.sh            # full: 15 s load runs, 100k affiliates / 10M clicks / 1M conversions
#   bash bench/run.sh --quick    # 5 s load runs, 10k affiliates / 1M clicks / 100k conversions
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/run.sh --quick
#   ONLY=redirect,ingest bash bench/run.sh --quick    # a subset
#   bash bench/run.sh --report=results.jsonl  # only the table, of figures the scripts wrote
#                                             # one by one with RESULTS_JSONL=results.jsonl
#
# Needs cargo, curl, python3 and wrk (installed with apt-get when missing and running as root).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=0
REPORT_ONLY=
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        --report=*) REPORT_ONLY=${arg#--report=} ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "error: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done
ONLY=${ONLY:-redirect,ingest,scale}
log() { printf '\n==> %s\n' "$*" >&2; }

for tool in curl python3 wrk; do
    if ! command -v "$tool" >/dev/null; then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            log "installing $tool"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null ||
                { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
        else
            echo "error: $tool is required" >&2; exit 1
        fi
    fi
done

failed=()
if [[ -n $REPORT_ONLY ]]; then
    # The table of figures collected earlier (RESULTS_JSONL of the scripts run one by one).
    FROM=$REPORT_ONLY
else
log "building release binaries"
cargo build --release --bin affilia --example bare_redirect
export SKIP_BUILD=1

if [[ $QUICK == 1 ]]; then
    export DURATION=${DURATION:-5s} SCALE=${SCALE:-quick}
else
    export DURATION=${DURATION:-15s} SCALE=${SCALE:-full}
fi

mkdir -p bench/results
RESULTS_JSONL=$(mktemp "${TMPDIR:-/tmp}/affilia-bench.XXXXXX.jsonl")
export RESULTS_JSONL
trap 'rm -f "$RESULTS_JSONL"' EXIT

databases=(sqlite)
if [[ ${DATABASE_URL:-} == postgres://* || ${DATABASE_URL:-} == postgresql://* ]]; then
    databases+=(postgres)
fi
PG_URL=${DATABASE_URL:-}

for db in "${databases[@]}"; do
    for bench in redirect ingest scale; do
        [[ ,$ONLY, == *,$bench,* ]] || continue
        log "$bench on $db"
        if [[ $db == sqlite ]]; then
            (unset DATABASE_URL; bash "bench/$bench.sh") || failed+=("$bench/$db")
        else
            DATABASE_URL=$PG_URL bash "bench/$bench.sh" || failed+=("$bench/$db")
        fi
    done
done

FROM=$RESULTS_JSONL
fi

log "results"
python3 - "$FROM" bench/results/latest.json "$QUICK" "${failed[*]:-}" <<'PY'
import json, platform, subprocess, sys, datetime, os
src, out, quick, failed = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4].split()
rows = [json.loads(l) for l in open(src) if l.strip()]
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
machine = {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
           "memory": sh("free -h | awk '/Mem:/{print $2}'")}
doc = {"generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "commit": sh("git rev-parse --short HEAD"), "dirty": bool(sh("git status --porcelain -- src migrations")),
       "quick": quick, "machine": machine, "failed_scripts": failed, "figures": rows}
json.dump(doc, open(out, "w"), indent=2)
def fmt(v):
    if isinstance(v, bool): return "yes" if v else "no"
    if isinstance(v, float): return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int): return f"{v:,}"
    return str(v)
hdr = ["bench", "db", "figure", "measured", "target", "met"]
table = [[r.get("bench",""), r.get("database",""), r.get("figure",""),
          f"{fmt(r.get('value'))} {r.get('unit','')}".strip(), r.get("target") or "—",
          "—" if r.get("met") is None else ("met" if r["met"] else "GAP")] for r in rows]
print(f"commit {doc['commit']}{' (dirty)' if doc['dirty'] else ''}, {machine['cpus']} CPUs {machine['cpu']}, "
      f"{'quick' if quick else 'full'} run, {doc['generated_at']}")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for t in table:
    print("| " + " | ".join(t) + " |")
gaps = [r for r in rows if r.get("met") is False]
print(f"\n{len(rows)} figures, {len(gaps)} gaps" + (f"; scripts that failed: {', '.join(failed)}" if failed else ""))
print(f"written: {out}")
PY
[[ ${#failed[@]} == 0 ]]

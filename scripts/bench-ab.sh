#!/usr/bin/env bash
# Compares one Go benchmark between two builds with both running at the same time, each pinned
# to its own core, swapping the cores every round. On a shared or drifting machine, runs one
# after the other differ by ±20 % from minute to minute; runs side by side see the same machine,
# so their ratio is what the code changed. Run it with `make bench-ab BASE=<git ref>`.
#
# BASE is a commit, branch or tag of this repository (checked out in a temporary worktree); it
# must contain the benchmark. The other build is the working tree. The benchmark reports a
# custom ns/record metric or ns/op, whichever it prints last among those two.
#
# Environment (defaults): BASE (required) BENCH=BenchmarkProcessorOTLPRequests
# PKG=./processor/llmanomalyprocessor/ ROUNDS=8 BENCHTIME=2000x.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${BASE:-}"
BENCH="${BENCH:-BenchmarkProcessorOTLPRequests}"
PKG="${PKG:-./processor/llmanomalyprocessor/}"
ROUNDS="${ROUNDS:-8}"
BENCHTIME="${BENCHTIME:-2000x}"
GO="${GO:-go}"

die() {
	echo "bench-ab: $*" >&2
	exit 1
}
[[ -n "$BASE" ]] || die "set BASE to the git ref to compare with (make bench-ab BASE=<ref>)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
command -v taskset >/dev/null || die "needs taskset (util-linux)"
[[ "$(nproc --all)" -ge 2 ]] || die "needs two cores"

WORK="$(mktemp -d)"
cleanup() {
	git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

git -C "$ROOT" worktree add --detach "$WORK/base" "$BASE" >/dev/null 2>&1 || die "cannot check out $BASE"
(cd "$WORK/base" && "$GO" test -c -o "$WORK/base.test" "$PKG") || die "$BASE: the test binary does not build"
(cd "$ROOT" && "$GO" test -c -o "$WORK/head.test" "$PKG") || die "working tree: the test binary does not build"
PKGDIR_BASE="$WORK/base/${PKG#./}"
PKGDIR_HEAD="$ROOT/${PKG#./}"
"$WORK/base.test" -test.list "^${BENCH}\$" 2>/dev/null | grep -qx "$BENCH" || die "$BASE has no $BENCH in $PKG"

# figure FILE: the benchmark's ns/record, else its ns/op.
figure() {
	awk -v b="$BENCH" '$1 ~ "^"b"(-[0-9]+)?$" {
		for (i = 2; i < NF; i++) if ($(i+1) == "ns/record" || $(i+1) == "ns/op") v = $i
	} END { if (v == "") exit 1; print v }' "$1"
}

echo "# bench-ab: $BENCH in $PKG, $BASE against the working tree, $ROUNDS rounds of $BENCHTIME, side by side"
echo "| round | base core | base | head core | head | head/base |"
echo "|---:|---:|---:|---:|---:|---:|"
for ((r = 1; r <= ROUNDS; r++)); do
	cb=$(((r + 1) % 2))
	ch=$((r % 2))
	(cd "$PKGDIR_BASE" && taskset -c "$cb" "$WORK/base.test" -test.run '^$' -test.bench "^${BENCH}\$" \
		-test.benchtime "$BENCHTIME" -test.benchmem >"$WORK/base-$r.txt" 2>&1) &
	bp=$!
	(cd "$PKGDIR_HEAD" && taskset -c "$ch" "$WORK/head.test" -test.run '^$' -test.bench "^${BENCH}\$" \
		-test.benchtime "$BENCHTIME" -test.benchmem >"$WORK/head-$r.txt" 2>&1) || {
		cat "$WORK/head-$r.txt" >&2
		die "round $r: the working tree's benchmark failed"
	}
	wait "$bp" || {
		cat "$WORK/base-$r.txt" >&2
		die "round $r: the base's benchmark failed"
	}
	b="$(figure "$WORK/base-$r.txt")" || die "round $r: no figure in the base's output"
	h="$(figure "$WORK/head-$r.txt")" || die "round $r: no figure in the working tree's output"
	echo "$r $cb $b $ch $h" >>"$WORK/rows"
	awk -v r="$r" -v cb="$cb" -v b="$b" -v ch="$ch" -v h="$h" 'BEGIN {printf "| %d | %d | %s | %d | %s | %.3f |\n", r, cb, b, ch, h, h / b}'
done
awk '{b += $3; h += $5} END {printf "\nmean: base %.1f, head %.1f; head/base %.3f (%+.1f %%)\n", b / NR, h / NR, h / b, (h / b - 1) * 100}' "$WORK/rows"
echo "allocations: base $(grep -o '[0-9]* allocs/op' "$WORK/base-$ROUNDS.txt" || echo n/a), head $(grep -o '[0-9]* allocs/op' "$WORK/head-$ROUNDS.txt" || echo n/a) (last round)"

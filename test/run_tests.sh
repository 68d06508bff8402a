#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs the packages,
# builds and installs marketo_fdw, starts a throwaway cluster and the Marketo
# emulator, runs every pg_regress test, then sql/nopreload.sql with the
# cluster restarted without shared_preload_libraries, stops everything, and
# ends with "N passed, N failed".  Exit status is non-zero when anything failed.
set -euo pipefail
source "$(dirname "$0")/env.sh"

install_packages
build_and_install
start_services 0

cd "$REPO"
passed=0
failed=0

# run_regress DIR [make arguments]: one pg_regress run, counted.  It writes
# into $WORK, so that runs from one clone do not overwrite each other's
# results; the results/ and regression.diffs are then copied to DIR in the
# clone for inspection.
run_regress() {
	local dir=$1 status=0 out p f outdir
	shift
	outdir="$WORK/regress-$(basename "$(cd "$dir" 2>/dev/null && pwd || echo "$dir")")"
	out="$outdir.out"
	mkdir -p "$outdir"
	make -s PG_CONFIG="$PG_BIN/pg_config" installcheck \
		REGRESS_OPTS="--inputdir=. --outputdir=$outdir" "$@" >"$out" 2>&1 || status=$?
	cat "$out"
	p=$(grep -cE '^(ok|test) .*\.\.\. ok|^ok [0-9]+ ' "$out" || true)
	f=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$out" || true)
	if [ -f "$outdir/regression.diffs" ]; then
		echo "--- regression.diffs ---"
		cat "$outdir/regression.diffs"
	fi
	mkdir -p "$dir"
	rm -rf "$dir/results" "$dir/regression.diffs" "$dir/regression.out"
	cp -r "$outdir/results" "$dir/" 2>/dev/null || true
	cp "$outdir/regression.diffs" "$dir/" 2>/dev/null || true
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		# pg_regress itself failed (could not connect, a crash): count it.
		f=1
		tail -n 50 "$WORK/postgres.log" >&2 || true
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

# MKTO_TESTS="modify copy" runs only those files (after setup), for
# development; the nopreload run is then skipped unless named.
if [ -n "${MKTO_TESTS:-}" ]; then
	tests=" $MKTO_TESTS "
	preloaded=$(echo $tests | tr ' ' '\n' | grep -vx nopreload | tr '\n' ' ' || true)
	log "running the regression tests (marketo_fdw preloaded): setup $preloaded"
	[ -n "${preloaded// /}" ] && run_regress . REGRESS="setup $preloaded"
	if [[ "$tests" == *" nopreload "* ]]; then
		restart_without_preload
		run_regress nopreload_out REGRESS="setup nopreload"
	fi
else
	log "running the regression tests (marketo_fdw preloaded)"
	run_regress .
	log "running sql/nopreload.sql with the cluster restarted without preloading"
	restart_without_preload
	run_regress nopreload_out REGRESS="setup nopreload"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

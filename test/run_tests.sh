#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs the packages,
# builds and installs marketo_fdw, starts a throwaway cluster and the Marketo
# emulator, runs every pg_regress test, stops everything, and ends with
# "N passed, N failed".  Exit status is non-zero when anything failed.
set -euo pipefail
source "$(dirname "$0")/env.sh"

install_packages
build_and_install
start_services 0

log "running the regression tests"
cd "$REPO"
rm -rf results regression.diffs regression.out
status=0
make -s PG_CONFIG="$PG_BIN/pg_config" installcheck >"$WORK/installcheck.out" 2>&1 || status=$?
cat "$WORK/installcheck.out"

passed=$(grep -cE '^(ok|test) .*\.\.\. ok|^ok [0-9]+ ' "$WORK/installcheck.out" || true)
failed=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$WORK/installcheck.out" || true)
if [ -f regression.diffs ]; then
	echo "--- regression.diffs ---"
	cat regression.diffs
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	# pg_regress itself failed (could not connect, a crash): count it.
	failed=1
	tail -n 50 "$WORK/postgres.log" >&2 || true
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

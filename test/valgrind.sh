#!/usr/bin/env bash
# The whole regression suite with the server under valgrind (memcheck), then
# a summary of the errors valgrind found, and of those with marketo_fdw in
# their stack.  Needs the Debian package valgrind, which it installs: the
# one tool this project adds, and only for this command.  Takes ~5 min.
# Tests that assert timing (rate windows, cancel) may fail under valgrind's
# slowdown; what this command checks is the memory error count.
set -euo pipefail
source "$(dirname "$0")/env.sh"

install_packages
dpkg-query -W -f='${Status}' valgrind 2>/dev/null | grep -q 'install ok installed' || {
	log "installing valgrind"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
build_and_install

VG_LOGS=$(mktemp -d /tmp/marketo_fdw_vg.XXXXXX)
chmod 777 "$VG_LOGS"
export PG_WRAPPER="valgrind --quiet --trace-children=no --leak-check=no --num-callers=30 \
 --error-limit=no --log-file=$VG_LOGS/vg.%p.log"
start_services 0

log "running the regression tests under valgrind (logs in $VG_LOGS)"
cd "$REPO"
rm -rf results regression.diffs regression.out
# MKTO_TESTS="bulk_extract bulk_faults" runs only those files (after setup)
make -s PG_CONFIG="$PG_BIN/pg_config" installcheck ${MKTO_TESTS:+REGRESS="setup $MKTO_TESTS"} \
	>"$VG_LOGS/installcheck.out" 2>&1 || true
tail -n 3 "$VG_LOGS/installcheck.out"
stop_services
trap - EXIT

# One "==pid== Invalid read ..." block per error; count those touching us.
errors=$(cat "$VG_LOGS"/vg.*.log | grep -c -E '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination)' || true)
ours=$(awk '/^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination)/{inerr=1; hit=0; next}
            inerr && /marketo_fdw\.so/ {hit=1}
            inerr && /^==[0-9]+== $/ {if (hit) n++; inerr=0}
            END {print n+0}' "$VG_LOGS"/vg.*.log)
echo "valgrind: $errors errors in all, $ours with marketo_fdw in the stack"
[ "$ours" -eq 0 ]

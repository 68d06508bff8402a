#!/usr/bin/env bash
# Speed and memory of large scans against the emulator: a program with
# 20,000 and then 200,000 members, read whole (listing + reads by lead id,
# 300 a call).  Prints rows, seconds, Marketo calls and the backend's peak
# memory (VmHWM) for each size; a flat peak means memory does not grow with
# the rows.  Figures are the emulator's, on this machine: Marketo's real
# latency (~100-300 ms a call) and its rate limit dominate in production.
set -euo pipefail
source "$(dirname "$0")/env.sh"

install_packages
build_and_install
start_services 0

psql_q() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v emu_url="http://127.0.0.1:$EMU_PORT" -d postgres "$@"; }

psql_q <<'SQL'
CREATE EXTENSION marketo_fdw;
CREATE SERVER marketo FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER marketo
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE SCHEMA marketo;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (program_members) FROM SERVER marketo INTO marketo;
SQL

# Lift the emulator's rate limit: this measures marketo_fdw, not waiting.
python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" config '{"rate_limit": 1000000}' >/dev/null

printf '%-10s %-10s %-8s %-8s %s\n' members rows seconds calls peak_rss_kb
program=2000
for n in 20000 200000; do
	program=$((program + 1))
	python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" add-members \
		"{\"programId\": $program, \"generate\": $n, \"statusName\": \"Registered\", \"startLeadId\": 1000000}" >/dev/null
	# Each size in a new backend, so that its peak is its own.
	line=$(psql_q -F ' ' <<SQL
SET marketo_fdw.max_calls_per_window = 1000;
SET marketo_fdw.max_calls_per_statement = 0;
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t, marketo_fdw_backend_calls() AS c;
CREATE TEMP TABLE n AS SELECT count(*) AS n FROM marketo.program_members WHERE program_id = $program;
SELECT n, round(extract(epoch FROM clock_timestamp() - t)::numeric, 1), marketo_fdw_backend_calls() - c,
       substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+([0-9]+)')
FROM t0, n;
SQL
)
	read -r rows secs calls hwm <<<"$line"
	printf '%-10s %-10s %-8s %-8s %s\n' "$n" "$rows" "$secs" "$calls" "$hwm"
done

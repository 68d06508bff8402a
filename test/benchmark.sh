#!/usr/bin/env bash
# Speed and memory of large scans against the emulator: a program with
# 20,000 and then 100,000 members (the most Marketo's filters take), read
# whole by filterType=reachedSuccess&filterValues=true,false, 300 a call.
# Prints rows, seconds, Marketo calls and the backend's peak memory
# (VmHWM) for each size; a flat peak means memory does not grow with
# the rows.  Figures are the emulator's, on this machine: Marketo's real
# latency (~100-300 ms a call) and its rate limit dominate in production.
# Then 4 sessions of lookups for 60 s without preloading (below).
# MKTO_BENCH=lookups runs only that second measurement, MKTO_BENCH=members
# only the first.
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

# ... and marketo_fdw's own window, a server-wide setting.
psql_q -c "ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

printf '%-10s %-10s %-8s %-8s %s\n' members rows seconds calls peak_rss_kb
program=2000
sizes="20000 100000"
[ "${MKTO_BENCH:-}" = lookups ] && sizes=
for n in $sizes; do
	program=$((program + 1))
	python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" add-members \
		"{\"programId\": $program, \"generate\": $n, \"statusName\": \"Registered\", \"startLeadId\": 1000000}" >/dev/null
	# Each size in a new backend, so that its peak is its own.
	line=$(psql_q -F ' ' <<SQL
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

# Second measurement: 4 sessions doing lookups for 60 s without
# shared_preload_libraries, against the emulator's real limits (100 calls
# per 20 s, 10 concurrent).  Each backend then limits only itself, so
# together they overrun the window and draw 606s; prints, per session, the
# statements that succeeded and failed, and the 606 answers the emulator
# gave.
[ "${MKTO_BENCH:-}" = members ] && exit 0
psql_q -c "ALTER SYSTEM RESET marketo_fdw.max_calls_per_window" >/dev/null
restart_without_preload
python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" config '{"rate_limit": 100, "rate_window": 20}' >/dev/null
python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" clear-calls >/dev/null
psql_q -c "IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO marketo" >/dev/null
printf '\n%-8s %-10s %-8s %s\n' session ok failed seconds
pids=
for s in 1 2 3 4; do
	psql_q -F ' ' >"$WORK/lookups.$s" <<SQL &
CREATE TEMP TABLE r (ok int, failed int, secs numeric);
DO \$\$
DECLARE
  ok int := 0;
  failed int := 0;
  v int;
  t0 timestamptz := clock_timestamp();
BEGIN
  WHILE clock_timestamp() - t0 < interval '60 s' LOOP
    BEGIN
      v := 1001 + (random() * 9)::int;
      PERFORM id FROM marketo.leads WHERE id = v;
      ok := ok + 1;
    EXCEPTION WHEN others THEN
      failed := failed + 1;
    END;
  END LOOP;
  INSERT INTO r VALUES (ok, failed, round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1));
END \$\$;
SELECT $s, ok, failed, secs FROM r;
SQL
	pids="$pids $!"
done
wait $pids
for s in 1 2 3 4; do
	read -r session ok failed secs <"$WORK/lookups.$s"
	printf '%-8s %-10s %-8s %s\n' "$session" "$ok" "$failed" "$secs"
done
python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" calls |
	python3 -c 'import json, sys
calls = [json.loads(l) for l in sys.stdin if l.strip()]
rest = [c for c in calls if not c["path"].startswith("/identity/")]
print("Marketo calls: %d, answered 606: %d" % (len(rest), sum(1 for c in rest if c.get("error_code") == "606")))'

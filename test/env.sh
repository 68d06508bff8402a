# Shared by test/run_tests.sh and test/demo.sh: installs what the build needs,
# builds and installs the extension, and runs a throwaway PostgreSQL cluster
# plus the Marketo emulator.  Source it; do not run it.

PG_MAJOR=${PG_MAJOR:-15}
SYSTEM_PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
# The cluster listens only on a Unix socket in its own $WORK, so its port
# number never collides with another run's.
PG_PORT=${MKTO_PG_PORT:-54329}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
	local pkgs="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libcurl4-openssl-dev libjson-c-dev python3 python3-psycopg2 libpostgresql-jdbc-java default-jdk-headless openssl strace make gcc"
	local missing=""
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		log "installing Debian packages:$missing"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	fi
}

# Builds, then installs into a private copy of the PostgreSQL tree in $WORK
# (PostgreSQL finds its share and lib directories relative to its binaries),
# so that two runs on one machine, from two clones, never load each other's
# build, and nothing is installed system-wide.
build_and_install() {
	WORK=${WORK:-$(mktemp -d /tmp/marketo_fdw.XXXXXX)}
	chmod 755 "$WORK"
	trap stop_services EXIT
	log "building marketo_fdw"
	make -C "$REPO" -s clean >/dev/null
	make -C "$REPO" -s PG_CONFIG="$SYSTEM_PG_BIN/pg_config" 2>&1 | grep -v '^$' >&2 || true
	test -f "$REPO/marketo_fdw.so" || { log "build failed"; return 1; }
	PG_TREE=$WORK/pg
	mkdir -p "$PG_TREE/usr/lib/postgresql" "$PG_TREE/usr/share/postgresql"
	cp -a "/usr/lib/postgresql/$PG_MAJOR" "$PG_TREE/usr/lib/postgresql/"
	cp -a "/usr/share/postgresql/$PG_MAJOR" "$PG_TREE/usr/share/postgresql/"
	make -C "$REPO" -s PG_CONFIG="$SYSTEM_PG_BIN/pg_config" DESTDIR="$PG_TREE" install >/dev/null
	PG_BIN=$PG_TREE/usr/lib/postgresql/$PG_MAJOR/bin
	[ "$(id -u)" -eq 0 ] && chown -R postgres "$WORK"
	return 0
}

# The server must not run as root; use the postgres account then.
run_as_db_owner() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A test CA and a certificate it signs for 127.0.0.1 and localhost, which
# the emulator serves on its TLS port, plus an unrelated CA that must not
# verify it.  Made fresh for each run, in $WORK/tls.
make_test_certs() {
	local dir=$WORK/tls
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=marketo_fdw test CA" \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=marketo_fdw other CA" \
		-keyout "$dir/other-ca.key" -out "$dir/other-ca.pem" 2>/dev/null
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
	chmod 755 "$dir"
	chmod 644 "$dir"/*.pem
	test -s "$dir/server.pem" || { log "could not make the test certificates"; return 1; }
}

start_services() {
	local seed_count=${1:-0}
	# The server runs emuctl.py through COPY FROM PROGRAM; give it a copy it can read.
	cp "$REPO/test/emuctl.py" "$WORK/emuctl.py"
	chmod 644 "$WORK/emuctl.py"
	[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
	trap stop_services EXIT

	make_test_certs
	# The emulator binds free ports of the kernel's choosing, one plain, one
	# https, and prints them.
	# Export jobs that take no time unless a test says otherwise.
	MKTO_EMU_BULK_SECONDS=${MKTO_EMU_BULK_SECONDS:-0} \
	python3 "$REPO/test/marketo_emulator.py" --port 0 --seed-count "$seed_count" \
		--tls-cert "$WORK/tls/server.pem" --tls-key "$WORK/tls/server.key" \
		>"$WORK/emulator.log" 2>&1 &
	EMU_PID=$!
	EMU_PORT=
	for _ in $(seq 1 100); do
		EMU_PORT=$(sed -n 's/^marketo emulator listening on .*:\([0-9]*\)$/\1/p' "$WORK/emulator.log")
		[ -n "$EMU_PORT" ] && break
		kill -0 "$EMU_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$EMU_PORT" ] && python3 "$REPO/test/emuctl.py" --port "$EMU_PORT" wait >/dev/null || {
		log "the emulator did not start:"; cat "$WORK/emulator.log" >&2; return 1; }
	EMU_TLS_PORT=$(sed -n 's/^marketo emulator listening with TLS on .*:\([0-9]*\)$/\1/p' "$WORK/emulator.log")
	log "the Marketo emulator listens on 127.0.0.1:$EMU_PORT, with TLS on 127.0.0.1:$EMU_TLS_PORT"

	log "starting a throwaway PostgreSQL $PG_MAJOR cluster in $WORK/data"
	run_as_db_owner "$PG_BIN/initdb" -D "$WORK/data" -A trust -U postgres >/dev/null
	# Export jobs polled every 10 ms, not once a minute as Marketo asks, and
	# their progress NOTICEs off (the bulk tests turn them on); in the file,
	# so that ALTER SYSTEM and SET still override them.
	printf "marketo_fdw.bulk_poll_interval = '10ms'\nmarketo_fdw.progress = off\n" \
		>>"$WORK/data/postgresql.conf"
	if [ -n "${PG_WRAPPER:-}" ]; then
		# e.g. valgrind: the postmaster runs under the wrapper, not pg_ctl;
		# TMPDIR for valgrind's own files, as /tmp may not be writable
		run_as_db_owner env MKTO_EMU_CTL="$WORK/emuctl.py" MKTO_EMU_PORT="$EMU_PORT" TMPDIR="$WORK" \
			$PG_WRAPPER "$PG_BIN/postgres" -D "$WORK/data" -p "$PG_PORT" -k "$WORK" \
			-c listen_addresses='' -c shared_preload_libraries=marketo_fdw \
			>"$WORK/postgres.log" 2>&1 &
		for _ in $(seq 1 120); do
			"$PG_BIN/pg_isready" -q -h "$WORK" -p "$PG_PORT" && break
			sleep 1
		done
	else
		cluster_ctl start marketo_fdw
	fi
	export PGHOST=$WORK PGPORT=$PG_PORT PGUSER=postgres MKTO_EMU_PORT=$EMU_PORT
	# for the https tests: the TLS port, the CA that signed its certificate,
	# and one that did not
	export MKTO_EMU_TLS_PORT=$EMU_TLS_PORT MKTO_EMU_CA=$WORK/tls/ca.pem \
		MKTO_EMU_OTHER_CA=$WORK/tls/other-ca.pem
}

# cluster_ctl ACTION PRELOAD [pg_ctl options]: pg_ctl ACTION on the test
# cluster, with shared_preload_libraries=PRELOAD.
cluster_ctl() {
	local action=$1 preload=$2
	shift 2
	run_as_db_owner env MKTO_EMU_CTL="$WORK/emuctl.py" MKTO_EMU_PORT="$EMU_PORT" \
		"$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w "$action" "$@" \
		-o "-p $PG_PORT -k $WORK -c listen_addresses='' -c shared_preload_libraries=$preload" >/dev/null
}

# The same cluster, restarted without shared_preload_libraries.
restart_without_preload() {
	log "restarting the cluster without shared_preload_libraries"
	cluster_ctl restart "''" -m fast
}

stop_services() {
	if [ -n "${WORK:-}" ] && [ -d "$WORK/data" ]; then
		run_as_db_owner "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [ -n "${EMU_PID:-}" ]; then
		kill "$EMU_PID" 2>/dev/null || true
		wait "$EMU_PID" 2>/dev/null || true
	fi
	[ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
	return 0
}

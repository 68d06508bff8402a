#!/usr/bin/env python3
"""Driver batch APIs writing to marketo.leads, as applications send them:
psycopg2's executemany in a transaction, psycopg2.extras.execute_batch,
and (with --java) pgjdbc's executeBatch in autocommit (test/ClientWrites.java).
Each loads ROWS rows; the check is the emulator's call log (at most
ceil(ROWS / 300) calls, not one per row) and the rows read back.  Prints
ok/not ok lines, as test/client_bi.py does, and a "measured" line per API
(for test/benchmark.sh).

Usage: client_writes.py DSN EMULATOR_PORT [--rows N] [--prefix P]
                        [--java CLASSPATH --pg-socket PATH]
pgjdbc speaks TCP only and the test cluster listens on a Unix socket: the
script forwards a loopback port of its own to the socket.
"""
import argparse
import json
import math
import socket
import subprocess
import sys
import threading
import time

import psycopg2
import psycopg2.extras

EMUCTL = [sys.executable, __file__.replace("client_writes.py", "emuctl.py")]
INSERT = "INSERT INTO marketo.leads (email, first_name) VALUES (%s, %s)"
results = []


def emu(port, *args):
    out = subprocess.run(EMUCTL + ["--port", str(port)] + list(args), check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %d - %s%s" % ("ok" if ok else "not ok", len(results), name,
                           "" if ok else " (%r)" % (detail,)))


def write_calls(port):
    return [c for c in emu(port, "calls")
            if not c["path"].startswith("/identity/") and c["method"] == "POST"]


def emails(prefix, api, n):
    return ["%s.%s.%d@example.com" % (prefix, api, i) for i in range(1, n + 1)]


def rows_present(conn, wanted):
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM marketo.leads WHERE email = ANY (%s)", (wanted,))
    n = cur.fetchone()[0]
    conn.commit()
    return n


def report(conn, port, api, wanted, seconds, reported):
    calls = write_calls(port)
    records = sum(len(c["body"]["input"]) for c in calls)
    limit = math.ceil(len(wanted) / 300)
    present = rows_present(conn, wanted)
    print("measured %s: %d rows, %d calls, %.2f s" % (api, len(wanted), len(calls), seconds))
    check("%s: %d rows in %d calls (at most %d), %d records sent, %d rows read back, %d reported"
          % (api, len(wanted), len(calls), limit, records, present, reported),
          len(calls) <= limit and records == len(wanted) and present == len(wanted) and
          reported == len(wanted),
          (len(calls), records, present, reported))


def psycopg2_executemany(dsn, port, prefix, n):
    wanted = emails(prefix, "executemany", n)
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    emu(port, "clear-calls")
    t0 = time.monotonic()
    cur.executemany(INSERT, [(e, "Many") for e in wanted])
    reported = cur.rowcount  # psycopg2 sums the statements' counts
    conn.commit()
    report(conn, port, "psycopg2 executemany in a transaction", wanted,
           time.monotonic() - t0, reported)
    conn.close()


def psycopg2_execute_batch(dsn, port, prefix, n):
    wanted = emails(prefix, "execute_batch", n)
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    emu(port, "clear-calls")
    t0 = time.monotonic()
    psycopg2.extras.execute_batch(cur, INSERT, [(e, "Batch") for e in wanted], page_size=100)
    conn.commit()
    # execute_batch reports only its last page's count: the rows' own count
    report(conn, port, "psycopg2 execute_batch", wanted, time.monotonic() - t0, n)
    conn.close()


def forward(listener, socket_path):
    """Relays each loopback connection to the cluster's Unix socket."""
    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    while True:
        client, _ = listener.accept()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(socket_path)
        threading.Thread(target=pipe, args=(client, server), daemon=True).start()
        threading.Thread(target=pipe, args=(server, client), daemon=True).start()


def pgjdbc_execute_batch(dsn, port, prefix, n, classpath, socket_path):
    wanted = emails(prefix, "executeBatch", n)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    threading.Thread(target=forward, args=(listener, socket_path), daemon=True).start()
    dbname = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    url = "jdbc:postgresql://127.0.0.1:%d/%s?user=postgres" % (listener.getsockname()[1], dbname)
    emu(port, "clear-calls")
    out = subprocess.run(["java", "-cp", classpath, "ClientWrites", url, "%s.executeBatch." % prefix,
                          str(n)], capture_output=True, text=True)
    if out.returncode != 0:
        check("pgjdbc executeBatch in autocommit runs", False, out.stderr[-2000:])
        return
    fields = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    conn = psycopg2.connect(dsn)
    report(conn, port, "pgjdbc executeBatch in autocommit", wanted, float(fields["seconds"]),
           int(fields["rows"]))
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dsn")
    ap.add_argument("emu_port", type=int)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--prefix", default="cw")
    ap.add_argument("--java", help="class path: pgjdbc's jar and ClientWrites.class")
    ap.add_argument("--pg-socket", help="the cluster's Unix socket, for pgjdbc")
    args = ap.parse_args()
    psycopg2_executemany(args.dsn, args.emu_port, args.prefix, args.rows)
    psycopg2_execute_batch(args.dsn, args.emu_port, args.prefix, args.rows)
    if args.java:
        pgjdbc_execute_batch(args.dsn, args.emu_port, args.prefix, args.rows, args.java,
                             args.pg_socket)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

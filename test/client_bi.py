#!/usr/bin/env python3
"""The queries BI tools send, through a real client (psycopg2): previews,
counts, DISTINCT, a parameterized date range, a server-side cursor,
program members without a program, and a CRM table joined to the leads
(batched) through a plain query, a cursor and a generic prepared plan.  Prints ok/not ok lines, as
test/emu_bulk_selftest.py does; test/run_tests.sh counts them.

Usage: client_bi.py DSN EMULATOR_PORT
"""
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import psycopg2

EMUCTL = [sys.executable, __file__.replace("client_bi.py", "emuctl.py")]
results = []


def emu(port, *args):
    out = subprocess.run(EMUCTL + ["--port", str(port)] + list(args), check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %d - %s%s" % ("ok" if ok else "not ok", len(results), name,
                           "" if ok else " (%r)" % (detail,)))


def rest_calls(port):
    return [c for c in emu(port, "calls") if not c["path"].startswith("/identity/")]


def check_joins(conn, port, leads):
    """A CRM table joined to the leads, as a BI tool or an ORM sends it:
    batched (ceil(keys/300) calls) through a plain query, a server-side
    cursor and a prepared statement's generic plan, with exactly the rows
    SQL says (a case variant and a NULL email match nothing)."""
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS bi_contacts")
    cur.execute("CREATE TABLE bi_contacts (contact_id int, email text, segment text)")
    emails = [l["email"] for l in leads[:700]]
    rows = [(i, e, "seg%d" % (i % 2)) for i, e in enumerate(emails)]
    rows += [(900, emails[0].upper(), "seg0"), (901, None, "seg1"), (902, "nobody@crm.example", "seg0")]
    cur.executemany("INSERT INTO bi_contacts VALUES (%s, %s, %s)", rows)
    cur.execute("ANALYZE bi_contacts")
    by_email = {l["email"]: l["id"] for l in leads}
    want = sorted((i, by_email[e]) for i, e, _ in rows if e in by_email)
    query = ("SELECT c.contact_id, l.id FROM bi_contacts c "
             "JOIN marketo.leads l ON l.email = c.email")

    emu(port, "clear-calls")
    cur.execute(query)
    got = sorted(cur.fetchall())
    calls = rest_calls(port)
    check("a join of 703 contacts gives SQL's rows in ceil(701/300) = 3 calls",
          got == want and len(calls) == 3, (len(got), len(want), len(calls)))

    emu(port, "clear-calls")
    conn.autocommit = False
    named = conn.cursor(name="bi_join")
    named.itersize = 100
    named.execute(query)
    first = named.fetchmany(5)
    calls_first = len(rest_calls(port))
    got = sorted(first + named.fetchall())
    named.close()
    conn.commit()
    conn.autocommit = True
    check("the join through a server-side cursor: one call for its first rows, 3 in all",
          got == want and calls_first == 1 and len(rest_calls(port)) == 3,
          (len(got), calls_first, len(rest_calls(port))))

    cur.execute("SET plan_cache_mode = force_generic_plan")
    cur.execute("PREPARE bi_seg(text) AS " + query + " WHERE c.segment = $1")
    for seg in ("seg0", "seg1"):
        emu(port, "clear-calls")
        cur.execute("EXECUTE bi_seg(%s)", (seg,))
        got = sorted(cur.fetchall())
        want_seg = sorted((i, by_email[e]) for i, e, sg in rows if sg == seg and e in by_email)
        keys = {e for _, e, sg in rows if sg == seg and e is not None}
        check("a prepared join, generic plan, segment %s: its rows in ceil(keys/300) calls" % seg,
              got == want_seg and len(rest_calls(port)) == (len(keys) + 299) // 300,
              (len(got), len(want_seg), len(rest_calls(port)), len(keys)))
    cur.execute("DEALLOCATE bi_seg")
    cur.execute("RESET plan_cache_mode")
    cur.execute("DROP TABLE bi_contacts")


def main(dsn, port):
    emu(port, "reset")
    emu(port, "config", json.dumps({"bulk_queue_seconds": 0, "bulk_process_seconds": 0,
                                    "rate_limit": 10000}))
    now = datetime.now(timezone.utc)
    emu(port, "generate-leads", json.dumps({
        "count": 1000, "from": (now - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}))
    leads = emu(port, "leads")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET marketo_fdw.progress = on")

    emu(port, "clear-calls")
    cur.execute("SELECT * FROM marketo.leads LIMIT 100")
    rows = cur.fetchall()
    calls = [c for c in emu(port, "calls") if not c["path"].startswith("/identity/")]
    check("preview: LIMIT 100 gives 100 rows over REST in at most 4 calls",
          len(rows) == 100 and len(calls) <= 4
          and not any(c["path"].startswith("/bulk/") for c in calls), (len(rows), calls))

    cur.execute("SELECT count(*) FROM marketo.leads")
    check("count(*) counts every lead", cur.fetchone()[0] == len(leads))
    check("the progress NOTICEs reach the client, which may ignore them",
          any("Marketo export job" in n for n in conn.notices), conn.notices[-3:])

    cur.execute("SELECT DISTINCT company FROM marketo.leads")
    got = sorted((r[0] for r in cur.fetchall()), key=lambda v: (v is None, v or ""))
    want = sorted({l.get("company") for l in leads}, key=lambda v: (v is None, v or ""))
    check("DISTINCT company is the emulator's", got == want, (got, want))

    since = now - timedelta(days=90)
    cur.execute("SELECT date_trunc('week', created_at) AS week, count(*) FROM marketo.leads "
                "WHERE created_at >= %s GROUP BY 1 ORDER BY 1", (since,))
    weekly = cur.fetchall()
    expected = sum(1 for l in leads
                   if datetime.fromisoformat(l["createdAt"].replace("Z", "+00:00")) >= since)
    check("weekly counts over 90 days (a bound as a parameter) add up",
          sum(c for _, c in weekly) == expected and len(weekly) >= 13, (weekly, expected))

    named = conn.cursor(name="bi_export")
    named.itersize = 250
    conn.autocommit = False
    named.execute("SELECT id, email FROM marketo.leads")
    ids = [r[0] for r in named]
    named.close()
    conn.commit()
    conn.autocommit = True
    check("a server-side cursor fetched in batches reads every lead once",
          sorted(ids) == sorted(l["id"] for l in leads), len(ids))

    cur.execute("SELECT * FROM marketo.program_members LIMIT 10")
    members = cur.fetchall()
    check("program members without a program_id", 0 < len(members) <= 10, len(members))

    check_joins(conn, port, leads)
    conn.close()
    return all(results)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1], int(sys.argv[2])) else 1)

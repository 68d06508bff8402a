#!/usr/bin/env python3
"""Drive the Marketo emulator's control API (test/marketo_emulator.py).

PostgreSQL runs this through COPY FROM PROGRAM in the regression tests, so it
depends on nothing but its arguments and MKTO_EMU_PORT.

  emuctl.py [--port P] reset | calls | clear-calls | config JSON | fault JSON
            | clear-faults | expire-tokens | leads | add-leads JSON
            | records OBJECT | add-records OBJECT JSON | crm-managed JSON
            | members | add-members JSON | add-programs JSON | leaks [JSON] | wait
            | bulk-jobs | add-bulk-job JSON | generate-leads JSON
            | activities | add-activities JSON

leaks counts, in the test server's log (postgres.log next to this script's
copy), the access tokens the emulator issued, its client secret and the
strings in the JSON list, printing counts only.

bulk-jobs lists every bulk export job, of every API user.  add-bulk-job
creates a job and enqueues it as another integration would: {"object":
"leads" | "program members", "owner": user (the emulator's API user unless
given), "fields": [...], "filter": {...}, "enqueue": true}; it lists them
with their fields, filter and how often their file was rendered.
generate-leads adds {"count": n, "from": iso, "to": iso, "tricky": false}
leads, createdAt spread evenly (a million in well under a second); with
"tricky", they hold, in turn, values that try a CSV reader (TRICKY in
marketo_emulator.py).  add-leads adds leads with the given values.
add-programs adds {"generate": n, "startId": k, "name": "Webinar %d", ...}
programs (emu_catalog.py).  add-activities adds {"count": n, "types": [ids],
"leads": [ids], "from": iso, "to": iso} activities, dates spread evenly
over [from, to), types and leads in turn; activities lists the stored
ones (emu_activities.py).
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request


def request(port, method, path, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d/_emulator/%s" % (port, path),
                                 data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def line(obj):
    print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def main(argv):
    port = int(os.environ.get("MKTO_EMU_PORT", "0"))
    if len(argv) >= 2 and argv[0] == "--port":
        port = int(argv[1])
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    cmd = argv[0]
    arg = json.loads(argv[1]) if len(argv) > 1 and cmd not in ("records", "add-records") else None
    try:
        if cmd == "wait":
            deadline = time.time() + 10
            while True:
                try:
                    line(request(port, "GET", "config"))
                    return 0
                except (urllib.error.URLError, OSError):
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
        simple = {
            "reset": ("POST", "reset"), "clear-calls": ("POST", "calls/clear"),
            "config": ("POST", "config"), "fault": ("POST", "faults"),
            "clear-faults": ("DELETE", "faults"), "expire-tokens": ("POST", "expire_tokens"),
        }
        if cmd in simple:
            method, path = simple[cmd]
            line(request(port, method, path, arg))
        elif cmd == "calls":
            for call in request(port, "GET", "calls"):
                line(call)
        elif cmd == "leads":
            for lead in request(port, "GET", "leads"):
                line(lead)
        elif cmd == "records":
            for rec in request(port, "GET", "objects/" + argv[1]):
                line(rec)
        elif cmd == "add-records":
            result = request(port, "POST", "objects/" + argv[1], {"input": json.loads(argv[2])})
            line({"ok": True, "records": len(result)})
        elif cmd == "members":
            for rec in request(port, "GET", "members"):
                line(rec)
        elif cmd == "add-members":
            result = request(port, "POST", "members", arg)
            line({"ok": True, "members": len(result)})
        elif cmd == "add-programs":
            result = request(port, "POST", "programs", arg)
            line({"ok": True, "programs": len(result)})
        elif cmd == "leaks":
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "postgres.log"),
                      encoding="utf-8", errors="replace") as f:
                log = f.read()
            tokens = request(port, "GET", "tokens")
            secret = request(port, "GET", "config")["client_secret"]
            line({"debug_lines": log.count("DEBUG:  marketo_fdw: ") > 0,
                  "tokens_issued": len(tokens), "tokens_in_log": sum(log.count(t) for t in tokens)})
            for needle in [secret] + (arg or []):
                line({"secret": needle, "in_log": log.count(needle)})
        elif cmd == "bulk-jobs":
            for job in request(port, "GET", "bulk/jobs"):
                line(job)
        elif cmd == "add-bulk-job":
            line(request(port, "POST", "bulk/jobs", arg))
        elif cmd == "generate-leads":
            line(request(port, "POST", "bulk/generate_leads", arg))
        elif cmd == "activities":
            for rec in request(port, "GET", "activities"):
                line(rec)
        elif cmd == "add-activities":
            line(request(port, "POST", "activities", arg))
        elif cmd == "crm-managed":
            line(request(port, "POST", "crm_managed", arg))
        elif cmd == "add-leads":
            result = request(port, "POST", "leads", {"input": arg})
            line({"ok": True, "leads": len(result)})
        else:
            sys.exit("emuctl.py: unknown command %r" % cmd)
    except (urllib.error.URLError, OSError) as e:
        sys.exit("emuctl.py: the emulator on port %d does not answer: %s" % (port, e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Checks the emulator's bulk extract and activity endpoints (test/emu_bulk.py)
against what Adobe documents, over HTTP like a client.

  emu_bulk_selftest.py --port P

Prints one "ok N - what" or "not ok N - what" line per check, like
pg_regress's TAP output, and exits non-zero if any failed.  It resets the
emulator before and after.
"""
import argparse
import csv
import hashlib
import http.client
import io
import json
import socket
import sys
import time
import urllib.parse

PORT = 0
RESULTS = []


def control(path, payload=None, method="POST"):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request(method, "/_emulator/" + path,
                 json.dumps(payload) if payload is not None else None,
                 {"Content-Type": "application/json"})
    out = json.loads(conn.getresponse().read())
    conn.close()
    return out


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        self.conn.request("GET", "/identity/oauth/token?grant_type=client_credentials"
                          "&client_id=emu-client&client_secret=emu-secret")
        self.token = json.loads(self.conn.getresponse().read())["access_token"]

    def raw(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        h.update(headers or {})
        self.conn.request(method, path, body, h)
        resp = self.conn.getresponse()
        return resp, resp.read()

    def call(self, method, path, body=None):
        _, data = self.raw(method, path, body)
        return json.loads(data)


def check(what, cond, detail=""):
    RESULTS.append(bool(cond))
    print("%s %d - %s%s" % ("ok" if cond else "not ok", len(RESULTS), what,
                            "" if cond else " (%r)" % (detail,)))


def code(reply):
    return None if reply.get("success") else reply["errors"][0]["code"]


def create(c, obj="leads", **body):
    body.setdefault("format", "CSV")
    return c.call("POST", "/bulk/v1/%s/export/create.json" % obj, body)


def wait_done(c, export_id, obj="leads", seconds=10):
    deadline = time.time() + seconds
    seen = []
    while time.time() < deadline:
        st = c.call("GET", "/bulk/v1/%s/export/%s/status.json" % (obj, export_id))["result"][0]
        if not seen or seen[-1] != st["status"]:
            seen.append(st["status"])
        if st["status"] in ("Completed", "Failed", "Cancelled"):
            return st, seen
        time.sleep(0.05)
    return st, seen


def job(c, flt, fields=("id", "email"), obj="leads", **extra):
    reply = create(c, obj, fields=list(fields), filter=flt, **extra)
    export_id = reply["result"][0]["exportId"]
    c.call("POST", "/bulk/v1/%s/export/%s/enqueue.json" % (obj, export_id))
    return export_id


WINDOW = {"createdAt": {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}}


def main():
    global PORT
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    PORT = ap.parse_args().port
    control("reset")
    # Polling this fast would pass the 100 calls per 20 s that bulk calls count in.
    control("config", {"bulk_queue_seconds": 0.2, "bulk_process_seconds": 0.3, "rate_limit": 100000})
    c = Client()

    # States advance over time, with every timestamp.
    reply = create(c, fields=["id", "email", "company", "notes", "title"], filter=WINDOW)
    export_id = reply["result"][0]["exportId"]
    check("create answers Created", reply["result"][0]["status"] == "Created", reply)
    q = c.call("POST", "/bulk/v1/leads/export/%s/enqueue.json" % export_id)
    check("enqueue answers Queued", q["result"][0]["status"] == "Queued", q)
    resp, _ = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % export_id)
    check("a file not ready is a plaintext 404", resp.status == 404
          and resp.getheader("Content-Type").startswith("text/plain"), resp.status)
    st, seen = wait_done(c, export_id)
    check("states advance Queued -> Processing -> Completed",
          seen == ["Queued", "Processing", "Completed"], seen)
    check("a completed status has every timestamp",
          all(k in st for k in ("createdAt", "queuedAt", "startedAt", "finishedAt")), st)

    # The file: header row, quoting, the literal null, the checksum.
    resp, data = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % export_id)
    check("the file is 200 with its whole size", resp.status == 200 and len(data) == st["fileSize"],
          (resp.status, len(data), st.get("fileSize")))
    check("fileChecksum is the file's SHA-256",
          st["fileChecksum"] == "sha256:" + hashlib.sha256(data).hexdigest(), st.get("fileChecksum"))
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    check("the header row holds the API names", rows[0] == ["id", "email", "company", "notes", "title"],
          rows[0])
    check("numberOfRecords counts the rows", st["numberOfRecords"] == len(rows) - 1 == 12,
          (st["numberOfRecords"], len(rows)))
    check("a comma is quoted", '"Acme, Inc."' in text, text[:200])
    check("an embedded newline is quoted, records end in LF only",
          '"Line one\nLine two"' in text and "\r" not in text)
    check("an empty value is the literal null",
          any(r[0] == "1006" and r[2] == "null" and r[3] == "null" for r in rows[1:]))

    # Range: resume in the middle; a suffix range; past the end.
    resp, part = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % export_id,
                       headers={"Range": "bytes=100-"})
    check("Range bytes=100- is 206 with Content-Range",
          resp.status == 206 and resp.getheader("Content-Range") == "bytes 100-%d/%d"
          % (len(data) - 1, len(data)) and part == data[100:], (resp.status, resp.getheader("Content-Range")))
    resp, part = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % export_id,
                       headers={"Range": "bytes=10-19"})
    check("Range bytes=10-19 gives those 10 bytes", resp.status == 206 and part == data[10:20])
    resp, _ = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % export_id,
                    headers={"Range": "bytes=%d-" % len(data)})
    check("a Range past the end is 416", resp.status == 416
          and resp.getheader("Content-Range") == "bytes */%d" % len(data))

    # A download cut after N bytes, resumed with Range to the same file.
    control("faults", {"kind": "cut_download", "bytes": 50})
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request("GET", "/bulk/v1/leads/export/%s/file.json" % export_id,
                 headers={"Authorization": "Bearer " + c.token})
    resp = conn.getresponse()
    got = b""
    try:
        got = resp.read()
    except http.client.IncompleteRead as e:
        got = e.partial
    conn.close()
    check("a cut download ends after 50 bytes", got == data[:50] and
          int(resp.getheader("Content-Length")) == len(data), len(got))
    c2 = Client()
    resp, rest = c2.raw("GET", "/bulk/v1/leads/export/%s/file.json" % export_id,
                        headers={"Range": "bytes=%d-" % len(got)})
    check("the cut download resumes with Range to the same checksum",
          resp.status == 206 and hashlib.sha256(got + rest).hexdigest() == st["fileChecksum"][7:])

    # Wrong checksum fault.
    control("faults", {"kind": "bad_checksum"})
    bad = job(c, WINDOW)
    st2, _ = wait_done(c, bad)
    _, data2 = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % bad)
    check("bad_checksum reports a checksum that is not the file's",
          st2["fileChecksum"] != "sha256:" + hashlib.sha256(data2).hexdigest())

    # Failed job.
    control("faults", {"kind": "job_fail", "message": "Export failed: disk full"})
    failed = job(c, WINDOW)
    st3, seen3 = wait_done(c, failed)
    check("job_fail ends Failed with its errorMsg",
          st3["status"] == "Failed" and st3.get("errorMsg") == "Export failed: disk full", st3)

    # 31-day limit and 1035.
    r = create(c, fields=["id"], filter={"createdAt": {"startAt": "2024-01-01T00:00:00Z",
                                                       "endAt": "2024-02-01T00:00:01Z"}})
    check("a createdAt range over 31 days is 1003", code(r) == "1003", r)
    r = create(c, fields=["id"], filter={"createdAt": {"startAt": "2024-01-01T00:00:00Z",
                                                       "endAt": "2024-02-01T00:00:00Z"}})
    check("a createdAt range of exactly 31 days is taken", r.get("success"), r)
    control("config", {"bulk_updated_at": False})
    r = create(c, fields=["id"], filter={"updatedAt": WINDOW["createdAt"]})
    check("updatedAt where the subscription refuses it is 1035", code(r) == "1035", r)
    control("config", {"bulk_updated_at": True})
    r = create(c, fields=["id"], filter={"updatedAt": WINDOW["createdAt"]})
    check("updatedAt where the subscription takes it is accepted", r.get("success"), r)
    r = create(c, fields=["id"], filter={})
    check("a lead job without a filter is 1003", code(r) == "1003", r)

    # The queue: 2 processing at once, 10 queued or processing, then 1029.
    control("config", {"bulk_queue_seconds": 0.1, "bulk_process_seconds": 30})
    ids = [job(c, WINDOW) for _ in range(10)]
    time.sleep(0.4)
    statuses = [c.call("GET", "/bulk/v1/leads/export/%s/status.json" % i)["result"][0]["status"]
                for i in ids]
    check("two jobs process at once, the rest stay queued",
          statuses.count("Processing") == 2 and statuses.count("Queued") == 8, statuses)
    extra = create(c, fields=["id"], filter=WINDOW)["result"][0]["exportId"]
    r = c.call("POST", "/bulk/v1/leads/export/%s/enqueue.json" % extra)
    check("an 11th queued job is 1029 Too many jobs in queue",
          code(r) == "1029" and r["errors"][0]["message"] == "Too many jobs in queue", r)
    r = c.call("POST", "/bulk/v1/leads/export/%s/enqueue.json" % ids[5])
    check("enqueueing a queued job again is 1029", code(r) == "1029", r)
    lst = c.call("GET", "/bulk/v1/leads/export.json?status=Processing")
    check("the listing filters by status",
          sorted(j["exportId"] for j in lst["result"]) == sorted(ids[:2]), lst)
    r = c.call("POST", "/bulk/v1/leads/export/%s/cancel.json" % ids[0])
    check("cancel answers Cancelled", r["result"][0]["status"] == "Cancelled", r)
    time.sleep(0.3)
    st4 = c.call("GET", "/bulk/v1/leads/export/%s/status.json" % ids[2])["result"][0]
    check("a cancelled job frees its processing slot", st4["status"] == "Processing", st4)
    for i in ids[1:]:
        c.call("POST", "/bulk/v1/leads/export/%s/cancel.json" % i)
    other = control("bulk/jobs", {"owner": "other@emulator", "fields": ["id"], "filter": WINDOW})
    r = c.call("GET", "/bulk/v1/leads/export/%s/status.json" % other["exportId"])
    check("another API user's job is not visible", code(r) == "1003", r)

    # The daily byte quota: the sum of today's fileSize.
    control("config", {"bulk_process_seconds": 0.1, "bulk_daily_bytes": 500})
    used = sum(j.get("fileSize", 0) for j in control("bulk/jobs", method="GET"))
    r = c.call("POST", "/bulk/v1/leads/export/%s/enqueue.json" % extra)
    check("over the daily bytes, enqueue is 1029 Export daily quota exceeded",
          used >= 500 and code(r) == "1029" and r["errors"][0]["message"] == "Export daily quota exceeded",
          (used, r))
    control("config", {"bulk_daily_bytes": 500 * 1024 * 1024})

    # Program members: programIds at most 10.
    pm = job(c, {"programIds": [1044, 1045]}, fields=("leadId", "programId", "statusName"),
             obj="program/members")
    st5, _ = wait_done(c, pm, obj="program/members")
    _, data5 = c.raw("GET", "/bulk/v1/program/members/export/%s/file.json" % pm)
    check("a program member job exports its programs' members",
          st5["status"] == "Completed" and st5["numberOfRecords"] == 7
          and data5.startswith(b"leadId,programId,statusName\n"), (st5, data5[:80]))
    r = create(c, "program/members", fields=["leadId"], filter={"programIds": list(range(1, 12))})
    check("more than 10 programIds is 1003", code(r) == "1003", r)

    # New Lead activities, by createdAt, 300 a page.
    control("reset")
    control("config", {"rate_limit": 100000})
    control("bulk/generate_leads", {"count": 700, "from": "2025-01-01T00:00:00Z",
                                    "to": "2025-03-01T00:00:00Z"})
    c = Client()                # the reset dropped the token
    tok = c.call("GET", "/rest/v1/activities/pagingtoken.json?sinceDatetime=2025-01-01T00:00:00Z")
    check("pagingtoken.json gives a nextPageToken", tok.get("success") and tok.get("nextPageToken"), tok)
    token, pages, got_ids, more = tok["nextPageToken"], [], [], True
    while more and len(pages) < 10:
        page = c.call("GET", "/rest/v1/activities.json?activityTypeIds=12&nextPageToken="
                      + urllib.parse.quote(token))
        pages.append(len(page["result"]))
        got_ids += [a["leadId"] for a in page["result"]]
        more, token = page["moreResult"], page["nextPageToken"]
    check("700 New Lead activities come in pages of 300, 300, 100", pages == [300, 300, 100], pages)
    check("the activities are the new leads in createdAt order, once each",
          len(set(got_ids)) == 700 and min(got_ids) == 1013, (len(set(got_ids)), min(got_ids)))
    r = c.call("GET", "/rest/v1/activities.json?nextPageToken=" + urllib.parse.quote(token))
    check("activities.json without activityTypeIds is refused", not r.get("success"), r)

    control("reset")
    failed_count = RESULTS.count(False)
    return 1 if failed_count else 0


if __name__ == "__main__":
    sys.exit(main())

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
from datetime import datetime, timezone

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


def fresh():
    """A reset emulator whose jobs run at once, and a client for it."""
    control("reset")
    control("config", {"bulk_queue_seconds": 0.05, "bulk_process_seconds": 0.05, "rate_limit": 100000})
    return Client()


def csv_records(data):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def gen_time(start, end, n, k):
    """The createdAt (epoch) generate-leads gives its k-th of n leads."""
    return start + (end - start) * k // max(1, n - 1)


def epoch(text):
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def scale():
    """A million generated leads: made in seconds, in little memory, read
    by id over REST, listed as New Lead activities, exported in a few
    seconds and served with Range from the one rendering."""
    c = fresh()
    n, start, end = 1000000, "2025-01-01T00:00:00Z", "2025-01-31T00:00:00Z"
    before = control("bulk/memory", method="GET")
    t = time.time()
    gen = control("bulk/generate_leads", {"count": n, "from": start, "to": end})
    took = time.time() - t
    after = control("bulk/memory", method="GET")
    check("generate-leads makes 1,000,000 leads in under 3 s", gen.get("leads") == n and took < 3,
          (gen, took))
    check("... and the emulator grows by under 50 MB",
          after["VmRSS"] - before["VmRSS"] < 50 * 1024, (before, after))
    first, t0, t1 = gen["first_id"], epoch(start), epoch(end)
    last = first + n - 1

    r = c.call("GET", "/rest/v1/leads.json?filterType=id&filterValues=%d,%d,%d&fields=email,lastName,createdAt,company"
               % (first, first + 123456, last))
    want = [{"id": first + k, "email": "gen%d@example.com" % (first + k), "lastName": "Lead %d" % (first + k),
             "createdAt": datetime.fromtimestamp(gen_time(t0, t1, n, k), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for k in (0, 123456, n - 1)]
    check("REST reads generated leads by id, null fields left out", r.get("result") == want, r)

    # An update and a delete of generated leads stay.
    r = c.call("POST", "/rest/v1/leads.json", {"action": "updateOnly", "lookupField": "id",
                                               "input": [{"id": first + 5, "company": "Changed, Inc."}]})
    d = c.call("POST", "/rest/v1/leads/delete.json", {"input": [{"id": first + 6}]})
    r2 = c.call("GET", "/rest/v1/lead/%d.json?fields=company,email" % (first + 5))
    r3 = c.call("GET", "/rest/v1/lead/%d.json" % (first + 6))
    check("a generated lead updated by id keeps its change; a deleted one is gone",
          r["result"][0]["status"] == "updated" and d["result"][0]["status"] == "deleted"
          and r2["result"][0].get("company") == "Changed, Inc." and r3["result"] == [], (r, d, r2, r3))

    # New Lead activities from the middle: a page in createdAt order, by bisection.
    mid = datetime.fromtimestamp(gen_time(t0, t1, n, 500000), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t = time.time()
    tok = c.call("GET", "/rest/v1/activities/pagingtoken.json?sinceDatetime=" + mid)["nextPageToken"]
    page = c.call("GET", "/rest/v1/activities.json?activityTypeIds=12&nextPageToken=" + urllib.parse.quote(tok))
    took = time.time() - t
    ids = [a["leadId"] for a in page["result"]]
    k0 = next(k for k in range(499990, 500010) if gen_time(t0, t1, n, k) >= epoch(mid))
    check("New Lead activities over 1,000,000 leads: 300 from the token's time on, in under 1 s",
          len(ids) == 300 and ids == list(range(first + k0, first + k0 + 300)) and page["moreResult"]
          and took < 1, (ids[:3], first + k0, took))

    # One job over every lead: rendered once, in seconds.
    t = time.time()
    whole = job(c, {"createdAt": {"startAt": start, "endAt": end}}, fields=("id", "email", "createdAt", "company"))
    st, _ = wait_done(c, whole, seconds=30)
    took = time.time() - t
    check("a job over 1,000,000 leads completes in under 10 s, less the deleted one",
          st["status"] == "Completed" and st["numberOfRecords"] == n - 1 and took < 10, (st, took))
    t = time.time()
    resp, data = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % whole)
    took = time.time() - t
    check("its file is served whole, with the reported size and checksum, in under 3 s",
          resp.status == 200 and len(data) == st["fileSize"] and took < 3
          and "sha256:" + hashlib.sha256(data).hexdigest() == st["fileChecksum"], (resp.status, took))
    lines = data.split(b"\n")
    check("its records are the leads in id order, the update in, the deleted lead out",
          lines[0] == b"id,email,createdAt,company" and len(lines) == n + 1 and lines[-1] == b""
          and lines[1].startswith(b"%d,gen%d@example.com," % (first, first))
          and lines[6] == b'%d,gen%d@example.com,%s,"Changed, Inc."'
          % (first + 5, first + 5, lines[6].split(b",")[2])
          and lines[7].startswith(b"%d," % (first + 7)), lines[1:8])
    resp, part = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % whole,
                       headers={"Range": "bytes=%d-" % (len(data) // 2)})
    resp2, part2 = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % whole,
                         headers={"Range": "bytes=1000-1999"})
    renders = next(j["renders"] for j in control("bulk/jobs", method="GET") if j["exportId"] == whole)
    check("Range requests serve the same bytes, from the one rendering",
          resp.status == 206 and part == data[len(data) // 2:] and resp2.status == 206
          and part2 == data[1000:2000] and renders == 1, (resp.status, resp2.status, renders))

    # A one-day window: exactly the leads whose createdAt is in it, ends included.
    w0, w1 = "2025-01-10T00:00:00Z", "2025-01-11T00:00:00Z"
    want = [first + k for k in range(n) if epoch(w0) <= gen_time(t0, t1, n, k) <= epoch(w1)]
    day = job(c, {"createdAt": {"startAt": w0, "endAt": w1}}, fields=("id",))
    st, _ = wait_done(c, day)
    _, data = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % day)
    got = [int(x) for x in data.split(b"\n")[1:-1]]
    check("a one-day createdAt window holds exactly that day's generated leads",
          got == want and st["numberOfRecords"] == len(want), (len(got), len(want)))
    del data, lines, part
    control("reset")
    after = control("bulk/memory", method="GET")
    check("a reset gives the file's memory back (RSS under 200 MB)", after["VmRSS"] < 200 * 1024, after)


TRICKY = [
    ("company", 'Say "hi", "bye"'), ("company", "Acme, Inc."), ("notes", "line one\nline two"),
    ("notes", "line one\r\nline two"), ("notes", "carriage\rreturn"), ("notes", "nul\x00byte"),
    ("notes", "line\u2028separator"), ("company", "null"), ("company", "\u6771\u4eac\u682a\u5f0f\u4f1a\u793e"),
]


def tricky():
    """generate-leads {"tricky": true}: values that try a CSV reader, quoted
    per RFC 4180, and the same over REST."""
    c = fresh()
    gen = control("bulk/generate_leads", {"count": 18, "from": "2025-03-01T00:00:00Z",
                                          "to": "2025-03-02T00:00:00Z", "tricky": True})
    first = gen["first_id"]
    jid = job(c, {"createdAt": {"startAt": "2025-03-01T00:00:00Z", "endAt": "2025-03-02T00:00:00Z"}},
              fields=("id", "firstName", "lastName", "company", "notes"))
    st, _ = wait_done(c, jid)
    _, data = c.raw("GET", "/bulk/v1/leads/export/%s/file.json" % jid)
    rows = csv_records(data)[1:]
    ok_values = len(rows) == 18
    for k, row in enumerate(rows):
        field, value = TRICKY[k % len(TRICKY)]
        rec = dict(zip(("id", "firstName", "lastName", "company", "notes"), row))
        ok_values = ok_values and rec["id"] == str(first + k) and rec[field] == value
    check("tricky leads: each value comes back from the CSV as it was", ok_values, rows[:9])
    check("tricky leads: a lone CR, CRLF, LF, a quote and a comma are quoted; quotes doubled",
          b'"carriage\rreturn"' in data and b'"line one\r\nline two"' in data
          and b'"line one\nline two"' in data and b'"Say ""hi"", ""bye"""' in data
          and b'"Acme, Inc."' in data, data[:400])
    check("tricky leads: NUL and U+2028 go out bare, records end in LF only",
          b",nul\x00byte\n" in data and ",line\u2028separator\n".encode() in data
          and data.count(b"\n") == 1 + 18 + 2 * 2, data.count(b"\n"))
    check("tricky leads: the text null is written as the bare literal null",
          ("%d,Gen,Lead %d,null,null\n" % (first + 7, first + 7)).encode() in data)
    check("tricky leads: non-ASCII text is UTF-8, and a firstName/lastName pair too",
          "Zo\u00eb,\u5c71\u7530 M\u00fcller,\u6771\u4eac".encode() in data)
    r = c.call("GET", "/rest/v1/leads.json?filterType=id&filterValues=%d,%d&fields=notes,company"
               % (first + 4, first + 5))
    check("tricky leads read the same over REST",
          [x.get("notes") for x in r["result"]] == ["carriage\rreturn", "nul\x00byte"], r)


def programs():
    """GET /rest/asset/v1/programs.json: maxReturn and offset paging, the
    date range, the asset API's nothing found."""
    c = fresh()
    r = c.call("GET", "/rest/asset/v1/programs.json")
    check("programs.json lists the emulator's programs by id, maxReturn 20 by default",
          r.get("success") and [p["id"] for p in r["result"]] == [1044, 1045, 1046], r)
    keys = {"id", "name", "description", "createdAt", "updatedAt", "url", "type", "channel",
            "folder", "status", "workspace", "headStart"}
    p = r["result"][0]
    check("a listed program has the documented members, and no tags or costs",
          set(p) == keys and p["createdAt"].endswith("Z+0000") and p["folder"]["type"] == "Folder"
          and p["name"] == "Big Blue Thing Product Launch", p)
    r1 = c.call("GET", "/rest/asset/v1/programs.json?maxReturn=2")
    r2 = c.call("GET", "/rest/asset/v1/programs.json?maxReturn=2&offset=2")
    check("maxReturn and offset page it",
          [p["id"] for p in r1["result"]] == [1044, 1045] and [p["id"] for p in r2["result"]] == [1046],
          (r1, r2))
    r = c.call("GET", "/rest/asset/v1/programs.json?offset=3")
    check("past the end: success, no result, the asset API's warning",
          r.get("success") is True and "result" not in r
          and r.get("warnings") == ["No assets found for the given search criteria."], r)
    r = c.call("GET", "/rest/asset/v1/programs.json?maxReturn=201")
    check("maxReturn over 200 is refused", code(r) == "1003", r)
    r = c.call("GET", "/rest/asset/v1/programs.json?earliestUpdatedAt=2024-02-02T00:00:00Z"
               "&latestUpdatedAt=2024-02-04T00:00:00-05:00")
    check("earliestUpdatedAt/latestUpdatedAt keep programs created or updated in the range",
          [p["id"] for p in r.get("result", [])] == [1045], r)
    control("members", {"programId": 2001, "input": []})
    r = c.call("GET", "/rest/asset/v1/programs.json?maxReturn=200")
    check("a program added by the members control is listed too",
          [p["id"] for p in r["result"]] == [1044, 1045, 1046, 2001], r)


def big_program():
    """A program over the 100,000-member filter limit: REST refuses it, a
    bulk program member job exports it whole, in seconds; the job's filters
    and fields as the docs have them."""
    c = fresh()
    n = 150000
    t = time.time()
    control("members", {"programId": 3001, "generate": n, "statusName": "Registered", "startLeadId": 2000000})
    took = time.time() - t
    r = c.call("GET", "/rest/v1/programs/3001/members.json?filterType=statusName&filterValues=Registered")
    check("150,000 members generated in under 5 s; the REST query over them is 1003",
          took < 5 and code(r) == "1003", (took, r.get("errors")))
    t = time.time()
    jid = job(c, {"programId": 3001}, fields=("leadId", "statusName", "email"), obj="program/members")
    st, _ = wait_done(c, jid, obj="program/members", seconds=30)
    _, data = c.raw("GET", "/bulk/v1/program/members/export/%s/file.json" % jid)
    took = time.time() - t
    lines = data.split(b"\n")
    check("a bulk program member job over them exports all 150,000 in under 10 s, lead fields too",
          st["status"] == "Completed" and st["numberOfRecords"] == n and len(lines) == n + 2
          and lines[0] == b"leadId,statusName,email"
          and lines[1] == b"2000000,Registered,member2000000@example.com" and took < 10, (st, took, lines[:2]))
    r = create(c, "program/members", fields=["leadId"], filter={"programId": 1044, "statusNames": ["Sent!"]})
    check("a statusNames value none of the programs has is 1003 Invalid Data",
          code(r) == "1003" and r["errors"][0]["message"] == "Invalid Data", r)
    r = create(c, "program/members", fields=["leadId"], filter={"programId": 1044, "statusNames": ["Attended"]})
    check("a statusNames value of the program's channel is taken", r.get("success"), r)
    r = create(c, "program/members", fields=["leadId"], filter={"programId": 1044, "nurtureCadence": "fast"})
    check("a nurtureCadence other than pause or norm is 1003", code(r) == "1003", r)
    r = create(c, "program/members", filter={"programId": 1044})
    check("a program member job without fields is 1003", code(r) == "1003", r)
    r = create(c, "program/members", fields=["leadId"], filter={"programId": 1044, "programIds": [1045]})
    check("programId and programIds together are 1003", code(r) == "1003", r)
    control("config", {"bulk_updated_at": False})
    r = create(c, "program/members", fields=["leadId"], filter={
        "programId": 1044, "updatedAt": {"startAt": "2024-03-01T00:00:00Z", "endAt": "2024-03-31T00:00:00Z"}})
    check("a member updatedAt filter where the subscription lacks it is 1035", code(r) == "1035", r)


def activity_export():
    """The bulk activity extract: createdAt required and at most 31 days,
    activityTypeIds, no Delete Lead, the default fields, attributes as a
    JSON object string."""
    c = fresh()
    stored = control("activities", method="GET")
    march = {"startAt": "2025-03-01T00:00:00Z", "endAt": "2025-03-31T00:00:00Z"}
    r = create(c, "activities", filter={"activityTypeIds": [10]})
    check("an activity job without createdAt is 1003", code(r) == "1003", r)
    r = create(c, "activities", filter={"createdAt": {"startAt": "2025-03-01T00:00:00Z",
                                                      "endAt": "2025-04-02T00:00:00Z"}})
    check("an activity job over 31 days is 1003", code(r) == "1003", r)
    r = create(c, "activities", filter={"createdAt": march, "activityTypeIds": [10, 37]})
    check("Delete Lead (37) cannot be extracted", code(r) == "1003" and "Delete Lead" in r["errors"][0]["message"], r)
    r = create(c, "activities", filter={"createdAt": march, "primaryAttributeValueIds": [7001]})
    check("primaryAttributeValueIds needs activityTypeIds", code(r) == "1003", r)
    r = create(c, "activities", fields=["leadId", "email"], filter={"createdAt": march})
    check("a field activities do not have is 1006", code(r) == "1006", r)

    def in_march(a):
        return "2025-03-01T00:00:00Z" <= a["activityDate"] <= "2025-03-31T00:00:00Z"

    reply = create(c, "activities", filter={"createdAt": march, "activityTypeIds": [10, 11]})
    export_id = reply["result"][0]["exportId"]
    c.call("POST", "/bulk/v1/activities/export/%s/enqueue.json" % export_id)
    st, _ = wait_done(c, export_id, obj="activities")
    _, data = c.raw("GET", "/bulk/v1/activities/export/%s/file.json" % export_id)
    rows = csv_records(data)
    want = [a for a in stored if in_march(a) and a["activityTypeId"] in (10, 11)]
    check("without fields, an activity file has the documented default columns",
          rows and rows[0] == ["marketoGUID", "leadId", "activityDate", "activityTypeId", "campaignId",
                               "primaryAttributeValueId", "primaryAttributeValue", "attributes"], rows[:1])
    check("the file holds the window's activities of those types, in date order",
          st["status"] == "Completed" and [r[0] for r in rows[1:]] == [a["marketoGUID"] for a in want]
          and st["numberOfRecords"] == len(want) > 0, (st, len(rows), len(want)))
    check("attributes is a JSON object string of names and values",
          all(json.loads(r[7]) == {x["name"]: x["value"] for x in a["attributes"]}
              for r, a in zip(rows[1:], want)), rows[1:2])

    export_id = job(c, {"createdAt": march}, fields=("activityTypeId", "campaignId"), obj="activities")
    st, _ = wait_done(c, export_id, obj="activities")
    _, data = c.raw("GET", "/bulk/v1/activities/export/%s/file.json" % export_id)
    rows = csv_records(data)
    check("fields choose the columns", rows[0] == ["activityTypeId", "campaignId"], rows[:1])
    check("without activityTypeIds, every type but Delete Lead",
          "37" not in {r[0] for r in rows[1:]} and
          len([r for r in rows[1:] if r[0] != "12"]) ==
          len([a for a in stored if in_march(a) and a["activityTypeId"] != 37]), len(rows))
    check("an empty value is null",
          all(r[1] == "null" for r in rows[1:] if r[0] == "1") and any(r[0] == "1" for r in rows[1:]),
          rows[1:4])


def custom_object_export():
    """The bulk custom object extract: one filter of updatedAt (31 days at
    most) or a list, no createdAt; fields from the type's describe; the
    records of the window, linked to leads; 1035 without updatedAt."""
    c = fresh()
    co = "customobjects/car_c"
    may = {"startAt": "2024-05-01T00:00:00Z", "endAt": "2024-05-31T00:00:00Z"}
    r = create(c, co, fields=["vin"], filter={"createdAt": may})
    check("a custom object job takes no createdAt filter", code(r) == "1003", r)
    r = create(c, co, fields=["vin"], filter={"updatedAt": {"startAt": "2024-05-01T00:00:00Z",
                                                            "endAt": "2024-06-02T00:00:00Z"}})
    check("a custom object job over 31 days is 1003", code(r) == "1003", r)
    r = create(c, co, fields=["vin", "email"], filter={"updatedAt": may})
    check("a field the type's describe lacks is 1006", code(r) == "1006", r)
    r = create(c, "customobjects/boat_c", fields=["vin"], filter={"updatedAt": may})
    check("an unknown type is 1013", code(r) == "1013", r)
    export_id = job(c, {"updatedAt": may}, fields=("marketoGUID", "vin", "leadId", "purchasePrice"), obj=co)
    st, _ = wait_done(c, export_id, obj=co)
    _, data = c.raw("GET", "/bulk/v1/%s/export/%s/file.json" % (co, export_id))
    rows = csv_records(data)
    stored = control("objects/" + co, method="GET")
    check("the file holds the type's records of the window, in creation order",
          st["status"] == "Completed" and rows[0] == ["marketoGUID", "vin", "leadId", "purchasePrice"]
          and [r[0] for r in rows[1:]] == sorted(x["marketoGUID"] for x in stored)
          and st["numberOfRecords"] == len(stored) == 4, (st, rows))
    export_id = job(c, {"updatedAt": {"startAt": "2024-06-01T00:00:00Z", "endAt": "2024-06-30T00:00:00Z"}},
                    fields=("vin",), obj=co)
    st, _ = wait_done(c, export_id, obj=co)
    check("a window without updates is an empty file", st["numberOfRecords"] == 0, st)
    listing = c.call("GET", "/bulk/v1/%s/export.json" % co)
    check("the type's job listing holds its jobs", len(listing["result"]) == 2, listing)
    control("config", {"bulk_updated_at": False})
    r = create(c, co, fields=["vin"], filter={"updatedAt": may})
    check("without the updatedAt filter on the subscription, 1035", code(r) == "1035", r)
    control("config", {"bulk_updated_at": True})


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
          # the docs: programId first in a programIds job's file
          and data5.startswith(b"programId,leadId,statusName\n1044,1001,Invited\n"), (st5, data5[:80]))
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

    for section in (scale, tricky, programs, big_program, activity_export, custom_object_export):
        # one section's crash is its failure, not the end of the others
        try:
            section()
        except Exception as e:
            check("%s ran to its end" % section.__name__, False, e)
    control("reset")
    failed_count = RESULTS.count(False)
    return 1 if failed_count else 0


if __name__ == "__main__":
    sys.exit(main())

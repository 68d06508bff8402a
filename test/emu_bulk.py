"""Bulk extract for the Marketo emulator (the notes, "Bulk extract"; Adobe's
bulk extract pages).

Endpoints, P being /bulk/v1/leads, /bulk/v1/program/members,
/bulk/v1/activities (records from emu_activities.select) or
/bulk/v1/customobjects/{apiName} (records from emu_custom_objects' store;
a job's object is then "customobjects/{apiName}"):
  POST P/export/create.json              fields, format, columnHeaderNames, filter
  POST P/export/{exportId}/enqueue.json
  GET  P/export/{exportId}/status.json
  GET  P/export/{exportId}/file.json     Range: bytes=... gives 206
  POST P/export/{exportId}/cancel.json
  GET  P/export.json                     status=, batchSize, nextPageToken
(The New Lead activities the bulk lead read dates the first lead by are
emu_activities.py's.)

Jobs advance with time: Created -> (enqueue) Queued -> Processing ->
Completed, at most bulk_max_processing (2) processing at once, and at most
bulk_max_queued (10) queued or processing.  A job waits bulk_queue_seconds
in the queue at least and processes for bulk_process_seconds; both are
emulator config (emu_do('config', ...)), so tests run fast.

Faults (emu_do('fault', ...); "path" is a prefix, "/bulk/" unless given):
  {"kind": "job_fail", "message": m}  the next job created ends Failed, errorMsg m
  {"kind": "bad_checksum"}            the next job created reports a wrong fileChecksum
  {"kind": "cut_download", "bytes": n} the next file download sends n bytes of
                                      its body, then drops the connection

Bulk calls pass the main emulator's token, rate, concurrency and daily
call checks.  ASSUMPTION: Marketo counts them in those limits as REST calls.
Jobs never expire here (the docs: status kept 30 days, files 7).

Where the docs are silent, the choice is marked ASSUMPTION.
"""
import base64
import hashlib
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import emu_activities
import emu_custom_objects
import emu_objects
import emu_program_members

try:
    from zoneinfo import ZoneInfo
    CENTRAL = ZoneInfo("America/Chicago")
except Exception:  # no tz database: US Central standard time
    CENTRAL = timezone(timedelta(hours=-6))

MAX_WINDOW = timedelta(days=31)
MAX_PROGRAM_IDS = 10
MAX_BATCH = 300
FAULT_KINDS = ("job_fail", "bad_checksum", "cut_download")
ENDED = ("Completed", "Failed", "Cancelled")
STATUSES = ("Created", "Queued", "Processing", "Completed", "Failed", "Cancelled")
OBJECTS = {"leads": "/bulk/v1/leads/export", "program members": "/bulk/v1/program/members/export",
           "activities": "/bulk/v1/activities/export"}
# The docs: an activity file's columns when fields is not given, and the
# one more field that may be asked for.
ACTIVITY_FIELDS = ["marketoGUID", "leadId", "activityDate", "activityTypeId", "campaignId",
                   "primaryAttributeValueId", "primaryAttributeValue", "attributes"]
ACTIVITY_EXTRA_FIELDS = ["actionResult"]
CUSTOM_PREFIX = "/bulk/v1/customobjects/"
MAX_PRIMARY_VALUES = 50

# The emulator's start may set the job times (MKTO_EMU_BULK_SECONDS).
_JOB_SECONDS = float(os.environ.get("MKTO_EMU_BULK_SECONDS", "1.0"))

CONFIG = {
    "bulk_queue_seconds": _JOB_SECONDS,     # least time a job spends Queued
    "bulk_process_seconds": _JOB_SECONDS,   # time a job spends Processing
    "bulk_max_processing": 2,
    "bulk_max_queued": 10,          # queued or processing (the docs: inclusive)
    # ASSUMPTION: the docs' 500 MB is 500 * 2^20 bytes.
    "bulk_daily_bytes": 500 * 1024 * 1024,
    # The subscription takes the updatedAt (and smart list) lead filters;
    # false makes create answer 1035, as the docs say some subscriptions do.
    "bulk_updated_at": True,
}


class FileReply:
    """A file.json answer: the CSV bytes, sent by send_file()."""

    def __init__(self, data, fault):
        self.data = data
        self.fault = fault


def _api():
    import marketo_emulator
    return marketo_emulator


def reset(state):
    state.bulk_jobs = {}          # exportId -> job
    state.bulk_clock = 0.0        # how far advance() has simulated
    state.bulk_seq = 0            # creation order of jobs
    for k, v in CONFIG.items():
        state.config.setdefault(k, v)


def api_user(state):
    # ASSUMPTION: the emulator has one API user, the one its client id belongs to.
    return state.config["client_id"] + "@emulator"


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text, name):
    """ISO-8601 without milliseconds, with Z or an offset (the docs)."""
    api = _api()
    try:
        if not isinstance(text, str) or "." in text:
            raise ValueError
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t.tzinfo is None:
            # ASSUMPTION: a datetime without an offset is UTC.
            t = t.replace(tzinfo=timezone.utc)
        return t
    except ValueError:
        raise api.ApiError("1003", "Invalid value '%s' for %s" % (text, name))


def lead_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the job queue ------------------------------------------------------------

def advance(state, now=None):
    """Moves jobs on to the given time, event by event, so that a job's
    timestamps are where it would have moved had someone watched."""
    cfg = state.config
    now = time.time() if now is None else now
    while True:
        processing = [j for j in state.bulk_jobs.values() if j["status"] == "Processing"]
        queued = sorted((j for j in state.bulk_jobs.values() if j["status"] == "Queued"),
                        key=lambda j: (j["queued"], j["seq"]))
        finish = min(processing, key=lambda j: j["started"], default=None)
        finish_at = finish["started"] + cfg["bulk_process_seconds"] if finish else None
        start = queued[0] if queued and len(processing) < cfg["bulk_max_processing"] else None
        start_at = max(start["queued"] + cfg["bulk_queue_seconds"], state.bulk_clock) if start else None
        if finish_at is not None and finish_at <= now and (start_at is None or finish_at <= start_at):
            state.bulk_clock = max(state.bulk_clock, finish_at)
            complete(state, finish, finish_at)
        elif start_at is not None and start_at <= now:
            state.bulk_clock = max(state.bulk_clock, start_at)
            start["status"] = "Processing"
            start["started"] = start_at
        else:
            state.bulk_clock = max(state.bulk_clock, now)
            return


def complete(state, job, when):
    job["finished"] = when
    if job.get("fail"):
        job["status"] = "Failed"
        job["errorMsg"] = job["fail"]
        return
    # The file holds the records as they are when the job finishes.  It
    # is rendered once, here; status and file calls (Range included) serve
    # these bytes and this digest.
    job["data"], job["records"] = render(state, job)
    job["renders"] = job.get("renders", 0) + 1
    job["sha256"] = hashlib.sha256(job["data"]).hexdigest()
    job["status"] = "Completed"


def today_bytes(state, now=None):
    """Bytes exported since midnight US Central (the docs' reset time): the
    sum of fileSize over the jobs completed since then, every API user's."""
    now = time.time() if now is None else now
    local = datetime.fromtimestamp(now, CENTRAL)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return sum(len(j["data"]) for j in state.bulk_jobs.values()
               if j["status"] == "Completed" and j["finished"] >= midnight)


def public(job):
    """A job as status.json and the listings show it."""
    out = {"exportId": job["id"], "format": job["format"], "status": job["status"],
           "createdAt": iso(job["created"])}
    for key, name in (("queued", "queuedAt"), ("started", "startedAt"), ("finished", "finishedAt")):
        if job.get(key) is not None:
            out[name] = iso(job[key])
    if job["status"] == "Completed":
        data = job["data"]
        digest = job["sha256"]
        if job.get("bad_checksum"):
            digest = hashlib.sha256(digest.encode()).hexdigest()
        out["numberOfRecords"] = job["records"]
        out["fileSize"] = len(data)
        # ASSUMPTION: the docs name the checksum SHA-256; the emulator gives
        # it as "sha256:" and the lower-case hex digest of the file.
        out["fileChecksum"] = "sha256:" + digest
    if job["status"] == "Failed":
        out["errorMsg"] = job["errorMsg"]
    return out


# --- create -------------------------------------------------------------------

def window(spec, name):
    api = _api()
    if not isinstance(spec, dict) or "startAt" not in spec or "endAt" not in spec:
        raise api.ApiError("1003", "%s requires startAt and endAt" % name)
    start = parse_time(spec["startAt"], name + ".startAt")
    end = parse_time(spec["endAt"], name + ".endAt")
    if end < start:
        raise api.ApiError("1003", "%s.endAt is before %s.startAt" % (name, name))
    if end - start > MAX_WINDOW:
        # ASSUMPTION: the code (1003, invalid request) for a range over the
        # documented 31 days.
        raise api.ApiError("1003", "Date range of %s filter exceeds 31 days" % name)
    return start, end


def lead_fields(names):
    api = _api()
    for f in names:
        if f not in api.FIELD:
            # ASSUMPTION: 1006 for an unknown field, as the REST lead calls.
            raise api.ApiError("1006", "Field '%s' not found" % f)


def member_fields(state, names):
    """The docs: a program member job's fields may be program member
    fields (Describe Program Member) and lead fields (Describe Lead2).
    ASSUMPTION: a name that is both is the member's."""
    api = _api()
    known = {f["name"] for f in emu_program_members.all_fields(state)} | set(api.FIELD)
    for f in names:
        if f not in known:
            raise api.ApiError("1006", "Field '%s' not found" % f)


def check_lead_filter(state, flt):
    api = _api()
    kinds = [k for k in ("createdAt", "updatedAt", "staticListId", "staticListName",
                         "smartListId", "smartListName") if k in flt]
    unknown = set(flt) - set(kinds)
    if unknown:
        raise api.ApiError("1003", "Invalid filter '%s'" % sorted(unknown)[0])
    if len(kinds) != 1:
        # The docs: only one filter type per export job.
        raise api.ApiError("1003", "Exactly one filter type is required")
    kind = kinds[0]
    if kind in ("updatedAt", "smartListId", "smartListName") and not state.config["bulk_updated_at"]:
        raise api.ApiError("1035", "Unsupported filter type for target subscription")
    if kind in ("createdAt", "updatedAt"):
        window(flt[kind], kind)
    elif kind == "staticListId":
        if int(flt[kind]) not in state.lists:
            raise api.ApiError("1003", "Static list %s not found" % flt[kind])  # ASSUMPTION
    elif kind == "staticListName":
        # ASSUMPTION: the emulator's static lists are named "List <id>".
        if not flt[kind].startswith("List ") or int(flt[kind][5:] or 0) not in state.lists:
            raise api.ApiError("1003", "Static list '%s' not found" % flt[kind])
    else:
        # ASSUMPTION: the emulator has no smart lists.
        raise api.ApiError("1003", "Smart list '%s' not found" % flt[kind])


def check_member_filter(state, flt):
    api = _api()
    allowed = {"programId", "programIds", "statusNames", "updatedAt", "isExhausted", "nurtureCadence"}
    unknown = set(flt) - allowed
    if unknown:
        raise api.ApiError("1003", "Invalid filter '%s'" % sorted(unknown)[0])
    if ("programId" in flt) == ("programIds" in flt):
        raise api.ApiError("1003", "Exactly one of programId or programIds is required")
    ids = [flt["programId"]] if "programId" in flt else flt["programIds"]
    if not isinstance(ids, list) or not ids or len(ids) > MAX_PROGRAM_IDS:
        # ASSUMPTION: the code for more than 10 programIds.
        raise api.ApiError("1003", "programIds must hold 1 to %d program ids" % MAX_PROGRAM_IDS)
    for p in ids:
        if int(p) not in state.programs:
            raise api.ApiError("1003", "Program %s not found" % p)  # ASSUMPTION
    if "statusNames" in flt:
        names = flt["statusNames"]
        if not isinstance(names, list) or not names:
            raise api.ApiError("1003", "Invalid Data")
        # The docs: a status name found in none of the programs is "1003,
        # Invalid Data".  A program's statuses are its channel's.
        known = {name for p in ids
                 for name, _ in emu_program_members.CHANNELS.get(state.programs[int(p)]["channel"], [])}
        if any(n not in known for n in names):
            raise api.ApiError("1003", "Invalid Data")
    if "nurtureCadence" in flt and flt["nurtureCadence"] not in ("pause", "norm"):
        # The docs' permissible values.  ASSUMPTION on the code.
        raise api.ApiError("1003", "Invalid nurtureCadence '%s'" % flt["nurtureCadence"])
    if "updatedAt" in flt:
        # The docs: not rolled out to every subscription (1035 there).
        if not state.config["bulk_updated_at"]:
            raise api.ApiError("1035", "Unsupported filter type for target subscription")
        window(flt["updatedAt"], "updatedAt")


def custom_type(state, obj):
    """The emu_custom_objects definition of a job's type (obj is its key)."""
    api = _api()
    definition = state.custom_types.get(obj)
    if definition is None:
        # ASSUMPTION: an unknown apiName is 1013, as for the REST calls.
        raise api.ApiError("1013", "Object not found: custom object '%s'" % obj.split("/", 1)[1])
    return definition


def custom_fields(state, obj, names):
    """The docs: fields are the attribute names Describe Custom Object gives."""
    api = _api()
    known = {f["name"] for f in custom_type(state, obj)["fields"]}
    for f in names:
        if f not in known:
            raise api.ApiError("1006", "Field '%s' not found" % f)  # ASSUMPTION, as leads


def check_custom_filter(state, flt):
    """The docs: exactly one of updatedAt (31 days at most), staticListId,
    staticListName, smartListId, smartListName; no createdAt.  Where the
    subscription lacks a filter type, 1035 (as for leads: updatedAt and the
    smart list filters)."""
    api = _api()
    kinds = [k for k in ("updatedAt", "staticListId", "staticListName",
                         "smartListId", "smartListName") if k in flt]
    unknown = set(flt) - set(kinds)
    if unknown:
        raise api.ApiError("1003", "Invalid filter '%s'" % sorted(unknown)[0])
    if len(kinds) != 1:
        raise api.ApiError("1003", "Exactly one filter type is required")
    # the lead filters' checks, which are the same
    check_lead_filter(state, flt)


def check_activity_filter(flt):
    """The docs: createdAt (31 days at most) is required; activityTypeIds
    is optional, Delete Lead not among them; primaryAttributeValueIds or
    primaryAttributeValues (never both, at most 50) need activityTypeIds."""
    api = _api()
    allowed = {"createdAt", "activityTypeIds", "primaryAttributeValueIds", "primaryAttributeValues"}
    unknown = set(flt) - allowed
    if unknown:
        raise api.ApiError("1003", "Invalid filter '%s'" % sorted(unknown)[0])
    if "createdAt" not in flt:
        # ASSUMPTION: the code for the missing required filter.
        raise api.ApiError("1003", "createdAt filter is required")
    window(flt["createdAt"], "createdAt")
    if "activityTypeIds" in flt:
        ids = flt["activityTypeIds"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool)
                                                          for i in ids):
            raise api.ApiError("1003", "activityTypeIds must be an array of integers")
        if emu_activities.DELETE_LEAD in ids:
            # The docs: Delete Lead is not supported (Get Deleted Leads
            # reads it).  ASSUMPTION on the code and the words.
            raise api.ApiError("1003", "Activity type %d (Delete Lead) is not supported" %
                               emu_activities.DELETE_LEAD)
        for i in ids:
            if i not in emu_activities.TYPE:
                raise api.ApiError("1003", "Invalid activity type id %d" % i)  # ASSUMPTION
    primary = [k for k in ("primaryAttributeValueIds", "primaryAttributeValues") if k in flt]
    if len(primary) > 1:
        raise api.ApiError("1003", "primaryAttributeValueIds and primaryAttributeValues cannot be used together")
    if primary:
        values = flt[primary[0]]
        if "activityTypeIds" not in flt:
            raise api.ApiError("1003", "%s requires activityTypeIds" % primary[0])
        if not isinstance(values, list) or not values or len(values) > MAX_PRIMARY_VALUES:
            raise api.ApiError("1003", "%s must hold 1 to %d values" % (primary[0], MAX_PRIMARY_VALUES))


def activity_fields(names):
    api = _api()
    for f in names:
        if f not in ACTIVITY_FIELDS + ACTIVITY_EXTRA_FIELDS:
            raise api.ApiError("1006", "Field '%s' not found" % f)  # ASSUMPTION, as leads


def create(state, obj, body, owner, fault):
    api = _api()
    if not isinstance(body, dict):
        raise api.ApiError("609", "Invalid JSON")
    fields = body.get("fields")
    if obj == "activities" and fields is None:
        fields = ACTIVITY_FIELDS      # the docs' default columns
    if not fields or not isinstance(fields, list):
        # The docs: fields is required.  ASSUMPTION on the code.
        raise api.ApiError("1003", "fields cannot be blank")
    fmt = body.get("format", "CSV")
    if fmt not in ("CSV", "TSV", "SSV"):
        raise api.ApiError("1003", "Invalid format '%s'" % fmt)
    flt = body.get("filter")
    if not isinstance(flt, dict):
        raise api.ApiError("1003", "filter cannot be blank")
    if obj.startswith("customobjects/"):
        custom_fields(state, obj, fields)
        check_custom_filter(state, flt)
    elif obj == "leads":
        lead_fields(fields)
        check_lead_filter(state, flt)
    elif obj == "activities":
        activity_fields(fields)
        check_activity_filter(flt)
    else:
        member_fields(state, fields)
        check_member_filter(state, flt)
    names = body.get("columnHeaderNames") or {}
    if not isinstance(names, dict):
        raise api.ApiError("1003", "Invalid columnHeaderNames")
    now = time.time()
    state.bulk_seq += 1
    job = {"id": str(uuid.uuid4()), "seq": state.bulk_seq, "object": obj, "owner": owner,
           "format": fmt, "fields": list(fields), "headers": dict(names), "filter": flt,
           "status": "Created", "created": now, "queued": None, "started": None,
           "finished": None}
    if fault and fault["kind"] == "job_fail":
        job["fail"] = fault.get("message", "Export failed")
    if fault and fault["kind"] == "bad_checksum":
        job["bad_checksum"] = True
    state.bulk_jobs[job["id"]] = job
    return job


def enqueue(state, job):
    api = _api()
    cfg = state.config
    advance(state)
    if job["status"] != "Created":
        # The docs' 1029 list has "Job already queued".  ASSUMPTION: an
        # ended job cannot be queued again either.
        raise api.ApiError("1029", "Job already queued")
    waiting = sum(1 for j in state.bulk_jobs.values() if j["status"] in ("Queued", "Processing"))
    if waiting >= cfg["bulk_max_queued"]:
        raise api.ApiError("1029", "Too many jobs in queue")
    if today_bytes(state) >= cfg["bulk_daily_bytes"]:
        raise api.ApiError("1029", "Export daily quota exceeded")
    job["status"] = "Queued"
    job["queued"] = time.time()


def cancel(state, job):
    advance(state)
    if job["status"] not in ENDED:
        job["status"] = "Cancelled"
        job["finished"] = time.time()
    # ASSUMPTION: cancelling an ended job is no error; its status stays.


# --- the file ------------------------------------------------------------------

def lead_rows(state, job):
    """The job's leads: their count and segments in id order (see
    LeadStore.in_range), as a million leads would not fit in memory as
    dicts."""
    flt = job["filter"]
    kind = next(iter(flt))
    if kind in ("createdAt", "updatedAt"):
        start, end = window(flt[kind], kind)
        # ASSUMPTION: both ends of the range are inclusive (Adobe's "every
        # lead" example uses windows of 31 days less a second, and dedupes
        # by id).  updatedAt matches the record's updatedAt here: the
        # emulator keeps no separate time of the latest field change.
        return state.leads.in_range(kind, start.timestamp(), end.timestamp())
    members = state.lists[int(flt[kind] if kind == "staticListId" else flt[kind][5:])]
    leads = [state.leads.peek(i) for i in sorted(members) if i in state.leads]
    return len(leads), [(None, leads)]


def member_rows(state, job):
    """The members, with their leads' fields (the docs: fields may name
    lead fields too), program by program, by lead id."""
    flt = job["filter"]
    ids = [int(flt["programId"])] if "programId" in flt else [int(p) for p in flt["programIds"]]
    if "updatedAt" in flt:
        start, end = window(flt["updatedAt"], "updatedAt")
    out = []
    for p in ids:
        for lead_id, m in sorted(state.members.get(p, {}).items()):
            if "statusNames" in flt and m.get("statusName") not in flt["statusNames"]:
                continue
            if "isExhausted" in flt and bool(m.get("isExhausted")) != bool(flt["isExhausted"]):
                continue
            if "nurtureCadence" in flt and m.get("nurtureCadence") != flt["nurtureCadence"]:
                continue
            if "updatedAt" in flt and not (m.get("updatedAt") and start <= lead_time(m["updatedAt"]) <= end):
                continue
            out.append(m)
    member_names = {f["name"] for f in emu_program_members.all_fields(state)}
    lead_names = [f for f in job["fields"] if f not in member_names]

    def with_lead(m):
        if not lead_names:
            return m
        lead = state.leads.peek(m["leadId"]) or {}
        return dict({f: lead.get(f) for f in lead_names}, **m)
    return len(out), [(None, (with_lead(m) for m in out))]


def activity_rows(state, job):
    """The activities created in the window, both ends inclusive as for
    leads, of the filter's types (every type but Delete Lead, which cannot
    be extracted) and primary attribute values, by (activityDate, id).
    attributes is a JSON object string, names to values (the docs: "a JSON
    string"); ASSUMPTION: an activity without attributes has null there."""
    flt = job["filter"]
    start, end = window(flt["createdAt"], "createdAt")
    types = flt.get("activityTypeIds")
    found = emu_activities.select(state, start, end + timedelta(seconds=1), types)
    if types is None:
        found = [a for a in found if a["activityTypeId"] != emu_activities.DELETE_LEAD]
    if "primaryAttributeValueIds" in flt:
        found = [a for a in found if a["primaryAttributeValueId"] in flt["primaryAttributeValueIds"]]
    if "primaryAttributeValues" in flt:
        found = [a for a in found if a["primaryAttributeValue"] in flt["primaryAttributeValues"]]
    rows = []
    for a in found:
        row = dict(a)
        attrs = a.get("attributes") or []
        row["attributes"] = json.dumps({x["name"]: x["value"] for x in attrs}, ensure_ascii=False,
                                       separators=(",", ":")) if attrs else None
        # ASSUMPTION: the emulator's activities all succeeded.
        row["actionResult"] = a.get("actionResult", "succeeded")
        rows.append(row)
    return len(rows), [(None, rows)]


def custom_rows(state, job):
    """The docs: records linked directly to a lead (the type's parent
    relationship to Lead), of the leads the filter selects: updated in the
    window (both ends inclusive, as for leads), or of those in the list.
    ASSUMPTION: records whose lead is gone are not exported, and the file
    is in order of the records' creation (createdAt, then marketoGUID)."""
    definition = custom_type(state, job["object"])
    links = [r["field"] for r in definition.get("relationships", [])
             if r.get("type") == "parent" and r.get("relatedTo", {}).get("name") == "Lead"]
    if not links:
        return 0, [(None, [])]
    link = links[0]
    flt = job["filter"]
    records = emu_objects.dump(state, job["object"])
    if "updatedAt" in flt:
        start, end = window(flt["updatedAt"], "updatedAt")
        records = [r for r in records if r.get("updatedAt") and start <= lead_time(r["updatedAt"]) <= end]
    else:
        kind = next(iter(flt))
        members = state.lists[int(flt[kind] if kind == "staticListId" else flt[kind][5:])]
        records = [r for r in records if r.get(link) in members]
    records = sorted((r for r in records if r.get(link) is not None and r[link] in state.leads),
                     key=lambda r: (r.get("createdAt") or "", str(r[definition["idField"]])))
    return len(records), [(None, records)]


def cell(value):
    # The docs: empty values are the literal null.  ASSUMPTION: booleans
    # as true/false, as in the JSON API.
    if value is None or value == "":
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def quote(text, delimiter):
    """RFC 4180: a field holding the delimiter, a quote, CR or LF is
    quoted, its quotes doubled.  (Python's csv module, with LF as its line
    end, leaves a lone CR unquoted.)  ASSUMPTION: other text, U+2028 and
    NUL included, goes out as it is, and the text "null" is not quoted, so
    that it reads as an empty value: Marketo's files cannot tell them apart."""
    if delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def render(state, job):
    """The file's bytes (UTF-8) and its record count; records end in LF
    only."""
    if job["object"].startswith("customobjects/"):
        count, rows = custom_rows(state, job)
    else:
        count, rows = {"leads": lead_rows, "program members": member_rows,
                       "activities": activity_rows}[job["object"]](state, job)
    delimiter = {"CSV": ",", "TSV": "\t", "SSV": " "}[job["format"]]
    # The docs: a programIds job's file has programId as its first field.
    # ASSUMPTION: asked for as well, it is not repeated.
    fields = job["fields"]
    if job["object"] == "program members" and "programIds" in job["filter"]:
        fields = ["programId"] + [f for f in fields if f != "programId"]
    lines = [delimiter.join(quote(job["headers"].get(f, f), delimiter) for f in fields)]
    for block, part in rows:
        if block is not None and not block.tricky:
            lines.extend(block.csv_lines(part, fields, delimiter, quote))
            continue
        if block is not None:
            part = (block.lead(i) for i in part)
        lines.extend(delimiter.join([quote(cell(r.get(f)), delimiter) for f in fields]) for r in part)
    lines.append("")
    return "\n".join(lines).encode("utf-8"), count


def send_file(handler, entry, reply):
    """200 with the whole file, or 206 for a satisfiable Range."""
    data = reply.data
    if data is None:
        # The notes: a file that is not ready is a plaintext 404.
        entry["http_status"] = 404
        handler.send_raw(404, b"Not Found", "text/plain")
        return
    total = len(data)
    status, start, end = 200, 0, total - 1
    rng = handler.headers.get("Range")
    if rng:
        try:
            unit, spec = rng.split("=", 1)
            if unit.strip() != "bytes" or "," in spec:
                raise ValueError   # ASSUMPTION: one range per request
            first, last = spec.strip().split("-", 1)
            if first == "":
                start, end = max(0, total - int(last)), total - 1
            else:
                start = int(first)
                end = min(int(last), total - 1) if last else total - 1
            if start > end or start >= total:
                raise IndexError
            status = 206
        except IndexError:
            entry["http_status"] = 416
            handler.send_response(416)
            handler.send_header("Content-Range", "bytes */%d" % total)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        except ValueError:
            status, start, end = 200, 0, total - 1
    body = data[start:end + 1]
    entry["http_status"] = status
    entry["range"] = rng
    handler.send_response(status)
    # ASSUMPTION: the content type of a CSV file.
    handler.send_header("Content-Type", "text/csv;charset=UTF-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Accept-Ranges", "bytes")
    if status == 206:
        handler.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, total))
    handler.end_headers()
    fault = reply.fault
    if fault and fault["kind"] == "cut_download":
        handler.wfile.write(body[:int(fault.get("bytes", len(body) // 2))])
        entry["cut_after"] = int(fault.get("bytes", len(body) // 2))
        handler.close_connection = True
        handler.connection.shutdown(2)
        return
    handler.wfile.write(body)


# --- listing tokens ---------------------------------------------------------------

def position_token(when, lead_id):
    # ASSUMPTION: a paging token is opaque; the emulator's carries the
    # position after which the next page starts (activity time, lead id).
    raw = json.dumps([when.strftime("%Y-%m-%dT%H:%M:%SZ"), lead_id]).encode()
    return base64.b32encode(raw).decode()


def token_position(token):
    api = _api()
    try:
        when, lead_id = json.loads(base64.b32decode(token))
        return lead_time(when), int(lead_id)
    except (ValueError, TypeError):
        raise api.ApiError("1003", "Invalid nextPageToken")  # ASSUMPTION


# --- routing ----------------------------------------------------------------------

def job_of(state, obj, export_id, owner):
    api = _api()
    job = state.bulk_jobs.get(export_id)
    if job is None or job["object"] != obj or job["owner"] != owner:
        # Jobs are visible only to the API user that created them (the notes).
        # ASSUMPTION: an unknown exportId is 1003.
        raise api.ApiError("1003", "Export job '%s' not found" % export_id)
    return job


def listing(state, obj, params, owner):
    api = _api()
    wanted = None
    if params.get("status"):
        wanted = params["status"].split(",")
        for s in wanted:
            if s not in STATUSES:
                raise api.ApiError("1003", "Invalid status '%s'" % s)
    batch = emu_objects.batch_size(params)
    advance(state)
    # The docs list the jobs of the last 7 days; the emulator keeps no older ones.
    jobs = [j for j in sorted(state.bulk_jobs.values(), key=lambda j: j["seq"])
            if j["object"] == obj and j["owner"] == owner and (wanted is None or j["status"] in wanted)]
    offset = 0
    if params.get("nextPageToken"):
        offset = token_position(params["nextPageToken"])[1]
    page = [public(j) for j in jobs[offset:offset + batch]]
    body = {"requestId": "", "success": True, "result": page}
    if offset + batch < len(jobs):
        body["moreResult"] = True
        body["nextPageToken"] = position_token(datetime.now(timezone.utc), offset + batch)
    else:
        body["moreResult"] = False
    return body


def route(state, method, path, params, body, fault):
    """The answer for a bulk or activity path (a JSON body or a FileReply),
    or None for other paths."""
    api = _api()
    obj = next((o for o, prefix in OBJECTS.items() if path.startswith(prefix)), None)
    if obj is None and path.startswith(CUSTOM_PREFIX):
        api_name, sep, tail = path[len(CUSTOM_PREFIX):].partition("/export")
        if not sep or not api_name:
            raise api.ApiError("610", "Requested resource not found")
        obj = emu_custom_objects.key(api_name)
        rest = tail
    elif obj is None:
        return None
    else:
        rest = path[len(OBJECTS[obj]):]
    owner = api_user(state)
    with state.lock:
        if rest == ".json" and method == "GET":
            return listing(state, obj, params, owner)
        if rest == "/create.json" and method == "POST":
            return api.ok([public(create(state, obj, body, owner, fault))])
        parts = rest.split("/")
        if len(parts) != 3 or parts[0] != "":
            raise api.ApiError("610", "Requested resource not found")
        job = job_of(state, obj, parts[1], owner)
        action = (method, parts[2])
        if action == ("POST", "enqueue.json"):
            enqueue(state, job)
            return api.ok([public(job)])
        if action == ("POST", "cancel.json"):
            cancel(state, job)
            return api.ok([public(job)])
        if action == ("GET", "status.json"):
            advance(state)
            return api.ok([public(job)])
        if action == ("GET", "file.json"):
            advance(state)
            if job["status"] != "Completed":
                return FileReply(None, None)
            return FileReply(job["data"], fault)
        raise api.ApiError("610", "Requested resource not found")


def take_fault(state, method, path):
    """A bulk fault for this call, taken only by the call it applies to: a
    job fault by a create, a cut by a file download."""
    if path.endswith("/export/create.json"):
        kinds = ("job_fail", "bad_checksum")
    elif path.endswith("/file.json"):
        kinds = ("cut_download",)
    else:
        return None
    for f in state.faults:
        if f["kind"] in kinds and path.startswith(f.get("path", "/bulk/")) \
                and f.get("method", method) == method:
            f["count"] = f.get("count", 1) - 1
            if f["count"] <= 0:
                state.faults.remove(f)
            return dict(f)
    return None


# --- control ------------------------------------------------------------------------

def generate_leads(state, arg):
    """{"count": n, "from": iso, "to": iso, "tricky": false}: n leads with
    createdAt (and updatedAt) spread evenly over [from, to], ids after the
    highest: id, email genID@example.com, firstName Gen, lastName "Lead ID".
    With tricky, each also holds one of marketo_emulator.TRICKY's values in
    turn (lead first + k the k-th, modulo their number).  They are computed,
    not stored (marketo_emulator.GeneratedLeads): a million take no memory."""
    api = _api()
    n = int(arg["count"])
    start = lead_time(arg["from"]).timestamp()
    end = lead_time(arg.get("to", arg["from"])).timestamp()
    block = state.leads.add_block(n, start, end, bool(arg.get("tricky")))
    return {"ok": True, "leads": n, "first_id": block.first, "tricky": len(api.TRICKY) if block.tricky else 0}


def control(state, method, path, arg):
    """Control paths under /_emulator/bulk/ (see test/emuctl.py), or None.
    Called with state.lock held."""
    if path == "/_emulator/bulk/jobs" and method == "GET":
        advance(state)
        # With the job's fields and filter, and how often its file was
        # rendered (once: downloads serve the cached bytes).
        return [dict(public(j), object=j["object"], owner=j["owner"], fields=j["fields"],
                     filter=j["filter"], renders=j.get("renders", 0))
                for j in sorted(state.bulk_jobs.values(), key=lambda j: j["seq"])]
    if path == "/_emulator/bulk/jobs" and method == "POST":
        # A job as another integration (or an earlier session) makes it:
        # {"object": "leads", "owner": "other", "fields": [...], "filter": {...},
        #  "enqueue": true}; owner defaults to the emulator's API user.
        arg = dict(arg or {})
        obj = arg.pop("object", "leads")
        owner = arg.pop("owner", None) or api_user(state)
        do_enqueue = arg.pop("enqueue", True)
        custom = obj.startswith("customobjects/")
        if obj not in OBJECTS and not custom:
            return {"error_code": "610", "message": "unknown object %r" % obj}
        # The bulk faults for a create apply here too.
        fault = take_fault(state, "POST", (CUSTOM_PREFIX + obj.split("/", 1)[1] + "/export" if custom
                                           else OBJECTS[obj]) + "/create.json")
        try:
            job = create(state, obj, arg, owner, fault)
            if do_enqueue:
                enqueue(state, job)
        except _api().ApiError as e:
            return {"error_code": e.code, "message": e.message}
        return dict(public(job), object=obj, owner=owner)
    if path == "/_emulator/bulk/generate_leads" and method == "POST":
        return generate_leads(state, arg or {})
    if path == "/_emulator/bulk/memory" and method == "GET":
        # The emulator's own memory (kB), for the self-checks at scale.
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        return {k: int(status[k].split()[0]) for k in ("VmRSS", "VmHWM")}
    return None

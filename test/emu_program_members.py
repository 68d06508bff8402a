"""Program members for the Marketo emulator (seed 001, and seed 000's
"Get Leads by Program Id").

Endpoints:
  GET  /rest/v1/programs/members/describe.json
  GET  /rest/v1/programs/{programId}/members.json   filterType/filterValues,
       or filterType=updatedAt with startAt/endAt; fields, batchSize, paging
  POST /rest/v1/programs/{programId}/members/status.json   statusName + leadIds
  POST /rest/v1/programs/{programId}/members.json          member data
  POST /rest/v1/programs/{programId}/members/delete.json
  GET  /rest/v1/leads/programs/{programId}.json     leads with "membership"

Where the docs are silent, the choice is marked ASSUMPTION.
"""
from datetime import datetime, timedelta, timezone

import emu_objects

MAX_BATCH = 300


def F(name, dtype, length=None, updateable=False):
    f = {"name": name, "displayName": name, "dataType": dtype, "updateable": updateable,
         "crmManaged": False}
    if length:
        f["length"] = length
    return f


# Seed 001's describe, in its order.
FIELDS = [
    F("acquiredBy", "boolean"), F("attendanceLikelihood", "integer"), F("createdAt", "datetime"),
    F("isExhausted", "boolean"), F("leadId", "integer"), F("membershipDate", "datetime"),
    F("nurtureCadence", "string", 4), F("program", "string", 255), F("programId", "integer"),
    F("reachedSuccess", "boolean"), F("reachedSuccessDate", "datetime"),
    F("registrationLikelihood", "integer"), F("statusName", "string", 255),
    F("statusReason", "string", 255), F("trackName", "string", 255), F("updatedAt", "datetime"),
    F("waitlistPriority", "integer"), F("myCustomField", "string", 255, True),
    F("registrationCode", "string", 100, True), F("webinarUrl", "string", 2000, True),
]
SEARCHABLE = [["leadId"], ["myCustomField"], ["reachedSuccess"], ["statusName"]]
DEFAULT_FIELDS = ["acquiredBy", "leadId", "membershipDate", "programId", "reachedSuccess"]

# ASSUMPTION: each channel's statuses with their steps, Marketo-like.  A
# status sync skips a member already at the same or a higher step (1037).
CHANNELS = {
    "Webinar": [("Not in Program", 0), ("Invited", 10), ("Registered", 20), ("Waitlisted", 25),
                ("No Show", 30), ("Attended", 40), ("Attended On-demand", 40)],
    "Email Blast": [("Not in Program", 0), ("Sent", 10), ("Engaged", 20), ("Influenced", 30)],
}
SUCCESS = {"Attended", "Attended On-demand", "Influenced"}


def _api():
    import marketo_emulator
    return marketo_emulator


def custom_fields(state):
    """Member fields created through the schema API (stored by the main
    emulator under "pm+name"): updateable custom fields of the describe."""
    out = []
    for key, rec in sorted(state.schema_extra.items()):
        if key.startswith("pm+"):
            out.append(F(rec["name"], rec.get("dataType", "string"), rec.get("length"), True))
    return out


def all_fields(state):
    return FIELDS + custom_fields(state)


def member(state, program_id, lead_id, status, when, **extra):
    rec = {"leadId": lead_id, "programId": program_id,
           "program": state.programs[program_id]["name"], "statusName": status,
           "acquiredBy": False, "isExhausted": False, "reachedSuccess": status in SUCCESS,
           "membershipDate": when, "createdAt": when, "updatedAt": when}
    rec.update(extra)
    return rec


def reset(state):
    state.members = {1044: {}, 1045: {}, 1046: {}}
    state.member_pages = {}
    seed = [
        (1044, 1001, "Invited", "2024-03-01T10:00:00Z", {"acquiredBy": True}),
        (1044, 1002, "Registered", "2024-03-05T10:00:00Z", {"registrationCode": "R-2"}),
        (1044, 1003, "Attended", "2024-03-09T10:00:00Z", {"myCustomField": "VIP"}),
        (1044, 1004, "No Show", "2024-03-16T10:00:00Z", {}),
        (1044, 1005, "Attended", "2024-04-02T10:00:00Z", {"myCustomField": "vip "}),
        (1045, 1001, "Sent", "2024-02-01T08:00:00Z", {}),
        (1045, 1002, "Influenced", "2024-02-03T08:00:00Z", {}),
    ]
    for program_id, lead_id, status, when, extra in seed:
        state.members[program_id][lead_id] = member(state, program_id, lead_id, status, when, **extra)
    state.config.setdefault("member_limit", 100000)


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text, name):
    """ISO-8601 without milliseconds (seed 001); Z or an offset."""
    api = _api()
    try:
        if "." in text:
            raise ValueError
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise api.ApiError("1003", "Invalid %s '%s'" % (name, text))


def field_type(state, name):
    return next((f["dataType"] for f in all_fields(state) if f["name"] == name), None)


def norm(dtype, value):
    """ASSUMPTION, as the main emulator: strings case-insensitive and
    trimmed, integers numeric, booleans true/false case-insensitive."""
    api = _api()
    if value is None:
        return None
    if dtype == "integer":
        try:
            return int(str(value).strip())
        except ValueError:
            raise api.ApiError("1003", "Invalid value '%s'" % value)
    if dtype == "boolean":
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise api.ApiError("1003", "Invalid value '%s'" % value)
        return text == "true"
    return str(value).strip().lower()


def program_of(state, text):
    api = _api()
    try:
        program_id = int(text)
    except ValueError:
        raise api.ApiError("1003", "Invalid programId '%s'" % text)
    if program_id not in state.programs:
        # ASSUMPTION: an unknown program is error 1013, as Marketo reports
        # objects it cannot find.
        raise api.ApiError("1013", "Program %d not found" % program_id)
    state.members.setdefault(program_id, {})
    return program_id


def page(state, records, params, more_result=True):
    """A page and the paging members.  ASSUMPTION, as the main emulator:
    the token is an offset into the re-evaluated result.  more_result=False
    follows the docs' sample for leads by program: a nextPageToken while
    pages remain, and no moreResult member."""
    api = _api()
    batch = emu_objects.batch_size(params)
    offset = 0
    token = params.get("nextPageToken")
    if token:
        if token not in state.member_pages:
            raise api.ApiError("1003", "Invalid nextPageToken")
        offset = state.member_pages.pop(token)
    size = min(batch, state.config["page_size"])
    chunk = records[offset:offset + size]
    if offset + size < len(records):
        tok = api.page_token()
        state.member_pages[tok] = offset + size
        return chunk, {"moreResult": True, "nextPageToken": tok} if more_result else {"nextPageToken": tok}
    return chunk, {"moreResult": False} if more_result else {}


def query(state, program_text, params):
    api = _api()
    limit = state.config.get("member_limit", 100000)
    ftype = params.get("filterType")
    if not ftype:
        raise api.ApiError("1003", "filterType is required")
    fields = params["fields"].split(",") if params.get("fields") else list(DEFAULT_FIELDS)
    known = {f["name"] for f in all_fields(state)}
    for f in fields:
        if f not in known:
            raise api.ApiError("1006", "Field '%s' not found" % f)
    with state.lock:
        program_id = program_of(state, program_text)
        members = state.members[program_id]
        if ftype != "leadId" and len(members) > limit:
            raise api.ApiError("1003", "Total membership size: %d exceeds the filter allowed limit of %d"
                               % (len(members), limit))
        if ftype == "updatedAt":
            if not params.get("startAt") or not params.get("endAt"):
                raise api.ApiError("1003", "startAt and endAt are required for filterType updatedAt")
            start = parse_time(params["startAt"], "startAt")
            end = parse_time(params["endAt"], "endAt")
            if end < start or end - start > timedelta(days=7):
                raise api.ApiError("1003", "The date range must be 7 days or less")
            # ASSUMPTION: both ends inclusive.
            matched = [m for m in members.values()
                       if start <= parse_time(m["updatedAt"], "updatedAt") <= end]
        else:
            if [ftype] not in SEARCHABLE + [[f["name"]] for f in custom_fields(state)
                                            if f["dataType"] in ("string", "integer")]:
                raise api.ApiError("1003", "Invalid filterType '%s'" % ftype)
            values = (params.get("filterValues") or "").split(",")
            if not params.get("filterValues"):
                raise api.ApiError("1003", "filterValues is required")
            if len(values) > MAX_BATCH:
                raise api.ApiError("1003", "Too many values in filterValues, max %d" % MAX_BATCH)
            dtype = field_type(state, ftype)
            wanted = {norm(dtype, v) for v in values}
            if ftype == "leadId":
                matched = [members[v] for v in wanted if v in members]
            else:
                matched = [m for m in members.values() if norm(dtype, m.get(ftype)) in wanted]
        if ftype != "leadId" and len(matched) > limit:
            raise api.ApiError("1003", "Matched membership size: %d exceeds the limit allowed for this API (%d)"
                               % (len(matched), limit))
        matched.sort(key=lambda m: m["leadId"])
        chunk, extra = page(state, matched, params)
        result = []
        for seq, m in enumerate(chunk):
            rec = {"seq": seq}
            rec.update({f: m[f] for f in fields if m.get(f) is not None})
            result.append(rec)
    return api.ok(result, **extra)


def leads_by_program(state, program_text, params):
    """GET /rest/v1/leads/programs/{programId}.json (seed 000)."""
    api = _api()
    fields = params["fields"].split(",") if params.get("fields") else \
        ["id", "email", "firstName", "lastName", "updatedAt", "createdAt"]
    with state.lock:
        program_id = program_of(state, program_text)
        by_lead = state.members[program_id]
        members = [by_lead[k] for k in sorted(by_lead)]
        chunk, extra = page(state, members, params, more_result=False)
        result = []
        for m in chunk:
            lead = state.leads.peek(m["leadId"]) or {"id": m["leadId"]}
            rec = {f: lead.get(f) for f in fields if lead.get(f) is not None}
            rec["membership"] = {
                "id": program_id, "progressionStatus": m["statusName"],
                "progressionStatusType": m["statusName"], "isExhausted": m["isExhausted"],
                "acquiredBy": m["acquiredBy"], "reachedSuccess": m["reachedSuccess"],
                "membershipDate": m["membershipDate"], "updatedAt": m["updatedAt"]}
            result.append(rec)
    return api.ok(result, **extra)


def skipped(seq, code, message):
    return {"seq": seq, "status": "skipped", "reasons": [{"code": code, "message": message}]}


def inputs(body):
    api = _api()
    if not isinstance(body, dict):
        raise api.ApiError("609", "Invalid JSON")
    records = body.get("input")
    if not isinstance(records, list) or not records:
        raise api.ApiError("1003", "input is required")
    if len(records) > MAX_BATCH:
        raise api.ApiError("1003", "Too many records in input, max %d" % MAX_BATCH)
    return records


def sync_status(state, program_text, body):
    api = _api()
    records = inputs(body)
    with state.lock:
        program_id = program_of(state, program_text)
        steps = dict(CHANNELS[state.programs[program_id]["channel"]])
        status = body.get("statusName")
        if status not in steps or status == "Not in Program":
            # ASSUMPTION: a status the channel lacks fails the whole call.
            raise api.ApiError("1003", "Invalid statusName '%s' for this program's channel" % status)
        members = state.members[program_id]
        results = []
        for seq, rec in enumerate(records):
            lead_id = rec.get("leadId") if isinstance(rec, dict) else None
            if lead_id not in state.leads:
                results.append(skipped(seq, "1004", "Lead not found"))
                continue
            now = now_iso()
            m = members.get(lead_id)
            if m is None:
                members[lead_id] = member(state, program_id, lead_id, status, now)
                results.append({"seq": seq, "status": "created", "leadId": lead_id})
            elif steps.get(m["statusName"], 0) >= steps[status]:
                results.append(skipped(seq, "1037",
                                       "Lead skipped because it is already in or past this status"))
            else:
                m.update(statusName=status, updatedAt=now,
                         reachedSuccess=m["reachedSuccess"] or status in SUCCESS)
                results.append({"seq": seq, "status": "updated", "leadId": lead_id})
    return api.ok(results)


def sync_data(state, program_text, body):
    api = _api()
    records = inputs(body)
    with state.lock:
        program_id = program_of(state, program_text)
        members = state.members[program_id]
        by_name = {f["name"]: f for f in all_fields(state)}
        results = []
        for seq, rec in enumerate(records):
            lead_id = rec.get("leadId") if isinstance(rec, dict) else None
            m = members.get(lead_id)
            if m is None:
                results.append(skipped(seq, "1013", "Membership not found"))
                continue
            bad = [k for k in rec if k != "leadId" and not by_name.get(k, {}).get("updateable")]
            if bad:
                # ASSUMPTION: the skip code for a field that cannot be written.
                results.append(skipped(seq, "1006", "Field '%s' is not updateable" % bad[0]))
                continue
            long = [k for k in rec if k != "leadId" and isinstance(rec[k], str)
                    and by_name[k].get("length") and len(rec[k]) > by_name[k]["length"]]
            if long:
                results.append(skipped(seq, "1003", "Value for field '%s' is too long" % long[0]))
                continue
            m.update({k: v for k, v in rec.items() if k != "leadId"})
            m["updatedAt"] = now_iso()
            results.append({"seq": seq, "status": "updated", "leadId": lead_id})
    return api.ok(results)


def delete(state, program_text, body):
    api = _api()
    records = inputs(body)
    with state.lock:
        program_id = program_of(state, program_text)
        members = state.members[program_id]
        results = []
        for seq, rec in enumerate(records):
            lead_id = rec.get("leadId") if isinstance(rec, dict) else None
            if members.pop(lead_id, None) is None:
                results.append(skipped(seq, "1037", "Lead not in program"))
            else:
                results.append({"seq": seq, "status": "deleted", "leadId": lead_id})
    return api.ok(results)


def describe(state):
    return _api().ok([{
        "name": "API Program Membership", "description": "Map for API program membership fields",
        "createdAt": "2021-03-20T01:30:05Z", "updatedAt": "2021-03-20T01:30:05Z",
        "dedupeFields": ["leadId", "programId"],
        "searchableFields": SEARCHABLE + [[f["name"]] for f in custom_fields(state)
                                          if f["dataType"] in ("string", "integer")],
        "fields": all_fields(state)}])


def route(state, method, path, params, body):
    """The response for a program member endpoint, or None."""
    api = _api()
    parts = path.split("/")
    if path == "/rest/v1/programs/members/describe.json" and method == "GET":
        return describe(state)
    if len(parts) == 6 and parts[:5] == ["", "rest", "v1", "leads", "programs"] \
            and parts[5].endswith(".json") and method == "GET":
        return leads_by_program(state, parts[5][:-5], params)
    if len(parts) < 6 or parts[:4] != ["", "rest", "v1", "programs"] or parts[5] == "schema":
        return None
    rest = "/".join(parts[5:])
    if rest == "members.json" and method == "GET":
        return query(state, parts[4], params)
    if method == "POST" and rest in ("members.json", "members/status.json", "members/delete.json"):
        handler = {"members.json": sync_data, "members/status.json": sync_status,
                   "members/delete.json": delete}[rest]
        return handler(state, parts[4], body)
    if rest.startswith("members"):
        raise api.ApiError("610", "Requested resource not found")
    return None


def add(state, arg):
    """Control: {"programId": p, "input": [members]} or {"programId": p,
    "generate": n, "statusName": s, "startLeadId": k}."""
    program_id = int(arg["programId"])
    state.programs.setdefault(program_id, {
        "id": program_id, "name": "Program %d" % program_id, "type": "Event", "channel": "Webinar",
        "status": "", "workspace": "Default", "costs": [], "tags": []})
    state.members.setdefault(program_id, {})
    if "generate" in arg:
        start = int(arg.get("startLeadId", 100000))
        for lead_id in range(start, start + int(arg["generate"])):
            state.leads.setdefault(lead_id, {"id": lead_id, "email": "member%d@example.com" % lead_id,
                                             "createdAt": "2024-01-01T00:00:00Z",
                                             "updatedAt": "2024-01-01T00:00:00Z"})
            state.members[program_id][lead_id] = member(state, program_id, lead_id,
                                                        arg.get("statusName", "Invited"),
                                                        "2024-01-01T00:00:00Z")
    for rec in arg.get("input", []):
        state.members[program_id][rec["leadId"]] = member(
            state, program_id, rec["leadId"], rec.get("statusName", "Invited"),
            rec.get("updatedAt", "2024-01-01T00:00:00Z"),
            **{k: v for k, v in rec.items() if k not in ("leadId", "statusName", "updatedAt")})


def dump(state):
    return [m for p in sorted(state.members) for _, m in sorted(state.members[p].items())]

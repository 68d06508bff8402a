"""Activities for the Marketo emulator (the notes, "Activities over REST";
Adobe's Activities page).

Endpoints:
  GET /rest/v1/activities/types.json
  GET /rest/v1/activities/pagingtoken.json   sinceDatetime
  GET /rest/v1/activities.json               nextPageToken, activityTypeIds (at
      most 10), leadIds (at most 30) or listId, batchSize (at most 300)
  GET /rest/v1/activities/deletedleads.json  nextPageToken, batchSize
  GET /rest/v1/activities/leadchanges.json   nextPageToken, fields, leadIds or
      listId, batchSize

The store: the seeded activities (SEED, fixed dates in 2025, ids from
FIRST_ID up, above every lead id), those added by add-activities, and the
New Lead activities (type 12), derived from the leads' createdAt rather
than stored (a million generated leads cost nothing): a New Lead
activity's id is its lead's id.  Deleting a lead through the API adds no
Delete Lead activity; the seed has some, for leads already gone.

select(state, start, end, type_ids=None, lead_ids=None) is the store's
public read, for the bulk activity export: the activity dicts (marketoGUID,
leadId, activityDate, activityTypeId, campaignId, primaryAttributeValueId,
primaryAttributeValue, attributes as [{name, value}], id) with start <=
activityDate < end (aware datetimes), of those types and leads (None:
all), ordered by (activityDate, id).  Call it with state.lock held.

Paging: ASSUMPTION: a paging token is opaque; the emulator's (as
emu_bulk's) carries a position (activity time, activity id): a page holds
the activities after it in (activityDate, id) order, and its token is the
position of its last record (the position it was given when it is
empty; an empty page's token also counts the empty pages, so that it
differs from the one it was asked with).  pagingtoken.json gives (sinceDatetime, 0), so sinceDatetime is
inclusive.  Every page carries a token, the last one too, as the docs say.

Faults (emu_do('fault', ...), "path" /rest/v1/activities.json or the
deletedleads/leadchanges path):
  {"kind": "short_page", "records": n}  the page holds at most n records;
                                         moreResult true while more follow
  {"kind": "empty_page"}                 the page is empty, moreResult true,
                                         the position unchanged
as Marketo's pages can be (the docs: fewer than 300 items with moreResult
true).

Control: POST /_emulator/activities {"count": n, "types": [ids], "leads":
[ids], "from": iso, "to": iso, "attributes": [{name, value}]} adds n
activities spread evenly over [from, to), types and leads taken in turn;
GET lists the stored ones (not the derived New Lead ones).

Where the docs are silent, the choice is marked ASSUMPTION.
"""
import base64
import json
from datetime import datetime, timedelta, timezone

import emu_objects

MAX_TYPES = 10
MAX_LEADS = 30
NEW_LEAD = 12
CHANGE_DATA_VALUE = 13
DELETE_LEAD = 37
# Seeded and added ids start here: above any lead id, which New Lead
# activities use as theirs.
FIRST_ID = 500000001

# id, name, description, primary attribute (name, dataType), attributes
TYPES = [
    (1, "Visit Webpage", "User visits a web page", ("Webpage ID", "integer"),
     [("Client IP Address", "string"), ("Query Parameters", "string"), ("Referrer URL", "string"),
      ("User Agent", "string"), ("Webpage URL", "string")]),
    (2, "Fill Out Form", "User fills out and submits form on web page", ("Webform ID", "integer"),
     [("Client IP Address", "string"), ("Form Fields", "text"), ("Query Parameters", "string"),
      ("Referrer URL", "string"), ("User Agent", "string"), ("Webpage ID", "integer")]),
    (3, "Click Link", "User clicks link on a page", ("Link ID", "integer"),
     [("Client IP Address", "string"), ("Query Parameters", "string"), ("Referrer URL", "string"),
      ("User Agent", "string"), ("Webpage ID", "integer")]),
    (6, "Send Email", "Send Marketo Email to a person", ("Mailing ID", "integer"),
     [("Campaign Run ID", "integer"), ("Step ID", "integer"), ("Choice Number", "integer")]),
    (7, "Email Delivered", "Marketo Email is delivered to a person", ("Mailing ID", "integer"),
     [("Campaign Run ID", "integer"), ("Step ID", "integer"), ("Choice Number", "integer")]),
    (8, "Email Bounced", "Marketo Email bounces", ("Mailing ID", "integer"),
     [("Category", "string"), ("Details", "string"), ("Email", "string"), ("Subcategory", "string")]),
    (9, "Unsubscribe Email", "Person unsubscribes from Marketo Emails", ("Mailing ID", "integer"),
     [("Client IP Address", "string"), ("Form Fields", "text"), ("User Agent", "string")]),
    (10, "Open Email", "User opens Marketo Email", ("Mailing ID", "integer"),
     [("Device", "string"), ("Is Mobile Device", "boolean"), ("Platform", "string"),
      ("User Agent", "string")]),
    (11, "Click Email", "User clicks on a link in a Marketo Email", ("Mailing ID", "integer"),
     [("Device", "string"), ("Is Mobile Device", "boolean"), ("Link", "string"),
      ("Platform", "string"), ("User Agent", "string")]),
    (12, "New Lead", "New person/record is added to the lead database", ("Lead ID", "integer"),
     [("Source Type", "string"), ("Form Name", "string"), ("Lead Source", "string")]),
    (13, "Change Data Value", "Changed attribute value for a person", ("Attribute Name", "string"),
     [("New Value", "string"), ("Old Value", "string"), ("Reason", "string"), ("Source", "string")]),
    (22, "Change Score", "Change a score value for a person", ("Score Name", "string"),
     [("Change Value", "string"), ("New Value", "integer"), ("Old Value", "integer"),
      ("Reason", "string")]),
    (24, "Add to List", "Add person to a list", ("List ID", "integer"), [("Source", "string")]),
    (37, "Delete Lead", "Delete a person from the lead database", ("Lead ID", "integer"),
     [("Remove from CRM", "boolean")]),
    (46, "Interesting Moment", "Interesting moment for a person", ("Milestone ID", "integer"),
     [("Description", "string"), ("Source", "string"), ("Date", "datetime")]),
]
TYPE = {t[0]: t for t in TYPES}

# Seeded campaigns and assets, by type: (campaignId, primaryAttributeValueId,
# primaryAttributeValue).
EMAILS = [(3101, 7001, "Spring Newsletter.Email"), (3102, 7002, "Webinar Invite.Email")]
SEED_START = datetime(2025, 3, 1, tzinfo=timezone.utc)
SEED_COUNT = 180
SEED_STEP = timedelta(hours=7, minutes=13)
SEED_CYCLE = [6, 7, 10, 11, 1, 3, 2, 10, 22, 11, 24, 46, 13, 9, 8]
SEED_LEADS = list(range(1001, 1013))
# Leads already deleted before the seed's start: their Delete Lead activities.
DELETED = [(901, "Ned Stark", "2025-02-10T08:00:00Z"), (902, "Robert Baratheon", "2025-02-11T09:30:00Z"),
           (903, "Jon Arryn", "2025-03-15T12:00:00Z")]
# Change Data Value: (REST field, display name, new, old), in turn.
CHANGES = [("title", "Job Title", "VP Marketing", "Manager"),
           ("leadScore", "Lead Score", "55", "45"),
           ("company", "Company Name", "USA Inc.", "USA")]


def _api():
    import marketo_emulator
    return marketo_emulator


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text, name):
    api = _api()
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise api.ApiError("1003", "Invalid %s '%s'" % (name, text))
    # ASSUMPTION: a time without an offset is UTC.
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def seed_attributes(type_id, k, lead_id):
    if type_id in (10, 11):
        attrs = [("Device", ["Desktop", "iPhone"][k % 2]), ("Is Mobile Device", k % 2 == 1),
                 ("Platform", ["Windows", "iOS"][k % 2]), ("User Agent", "Mozilla/5.0")]
        if type_id == 11:
            attrs.insert(2, ("Link", "https://www.example.com/offer?k=%d" % (k % 3)))
        return attrs
    if type_id in (6, 7):
        return [("Campaign Run ID", 400 + k % 4), ("Step ID", 11), ("Choice Number", 0)]
    if type_id == 8:
        return [("Category", "1"), ("Details", "550 mailbox unavailable"), ("Subcategory", "10")]
    if type_id in (1, 3):
        return [("Client IP Address", "10.0.0.%d" % (k % 250)), ("Query Parameters", ""),
                ("Referrer URL", ""), ("User Agent", "Mozilla/5.0"), ("Webpage URL", "/pricing.html")]
    if type_id == 2:
        return [("Client IP Address", "10.0.1.%d" % (k % 250)),
                ("Form Fields", "a:1:{s:5:\"Email\";s:0:\"\";}"), ("Webpage ID", 71)]
    if type_id == 22:
        return [("Change Value", "+10"), ("New Value", 55), ("Old Value", 45), ("Reason", "Opened email")]
    if type_id == 24:
        return [("Source", "Smart campaign")]
    if type_id == 46:
        return [("Description", "Asked for a demo"), ("Source", "Web")]
    if type_id == 9:
        return [("Client IP Address", "10.0.2.1"), ("User Agent", "Mozilla/5.0")]
    return []


def primary_of(type_id, k, lead_id):
    """(campaignId, primaryAttributeValueId, primaryAttributeValue)."""
    if type_id in (6, 7, 8, 9, 10, 11):
        return EMAILS[k % len(EMAILS)]
    if type_id in (1, 3):
        return (None, 71, "www.example.com/pricing.html")
    if type_id == 2:
        return (None, 12, "Contact Us Form")
    if type_id == 22:
        return (3103, None, "Behavior Score")
    if type_id == 24:
        return (3104, 1001, "List 1001")
    if type_id == 46:
        return (3105, 5, "Web")
    return (None, None, None)


def record(act_id, lead_id, when, type_id, campaign, pid, pvalue, attrs, extra=None):
    rec = {"id": act_id, "marketoGUID": str(act_id), "leadId": lead_id, "activityDate": iso(when),
           "activityTypeId": type_id, "campaignId": campaign, "primaryAttributeValueId": pid,
           "primaryAttributeValue": pvalue,
           # the docs: an empty attribute is left out of a record
           "attributes": [{"name": n, "value": v} for n, v in attrs if v is not None]}
    if extra:
        rec.update(extra)
    # kept for ordering and selection, not sent
    rec["_key"] = (when.timestamp(), act_id)
    return rec


def change_record(act_id, lead_id, when, k):
    # by k // 15: seeded changes are every 15th activity
    field, display, new, old = CHANGES[(k // len(SEED_CYCLE)) % len(CHANGES)]
    attrs = [("New Value", new), ("Old Value", old), ("Reason", "Web service API"),
             ("Source", "Web service API")]
    names = [f[0] for f in _api().BASE_LEAD_FIELDS]
    field_id = names.index(field) + 1 if field in names else 0
    return record(act_id, lead_id, when, CHANGE_DATA_VALUE, None, None, display, attrs,
                  {"_change": {"id": field_id, "name": field, "newValue": new, "oldValue": old}})


def seed():
    acts = []
    for k in range(SEED_COUNT):
        type_id = SEED_CYCLE[k % len(SEED_CYCLE)]
        lead_id = SEED_LEADS[(k * 5) % len(SEED_LEADS)]
        when = SEED_START + SEED_STEP * k
        act_id = FIRST_ID + k
        if type_id == CHANGE_DATA_VALUE:
            acts.append(change_record(act_id, lead_id, when, k))
            continue
        campaign, pid, pvalue = primary_of(type_id, k, lead_id)
        acts.append(record(act_id, lead_id, when, type_id, campaign, pid, pvalue,
                           seed_attributes(type_id, k, lead_id)))
    for j, (lead_id, name, when) in enumerate(DELETED):
        acts.append(record(FIRST_ID + SEED_COUNT + j, lead_id, parse_time(when, "date"), DELETE_LEAD,
                           None, lead_id, name, [("Remove from CRM", False)]))
    acts.sort(key=lambda a: a["_key"])
    return acts


def reset(state):
    state.activities = seed()
    state.activity_next_id = FIRST_ID + SEED_COUNT + len(DELETED)


def public(rec):
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def new_lead_record(lead):
    when = parse_time(lead["createdAt"], "createdAt")
    # ASSUMPTION: New Lead's attributes, as a form fill-in would leave them.
    return {"id": lead["id"], "marketoGUID": str(lead["id"]), "leadId": lead["id"],
            "activityDate": lead["createdAt"], "activityTypeId": NEW_LEAD, "campaignId": None,
            "primaryAttributeValueId": None, "primaryAttributeValue": None,
            "attributes": [{"name": "Source Type", "value": "New lead"}],
            "_key": (when.timestamp(), lead["id"]), "_lead": lead}


def stored_after(state, key, limit, type_ids, lead_ids, end_key=None):
    """Up to limit stored activities after key of these types and leads."""
    found = []
    lo, hi = 0, len(state.activities)
    while lo < hi:      # bisect on _key
        mid = (lo + hi) // 2
        if state.activities[mid]["_key"] <= key:
            lo = mid + 1
        else:
            hi = mid
    for rec in state.activities[lo:]:
        if len(found) >= limit or (end_key is not None and rec["_key"] >= end_key):
            break
        if (type_ids is None or rec["activityTypeId"] in type_ids) and \
                (lead_ids is None or rec["leadId"] in lead_ids):
            found.append(rec)
    return found


def after(state, key, limit, type_ids, lead_ids):
    """Up to limit activities after the position key, in order."""
    found = stored_after(state, key, limit, type_ids, lead_ids)
    if type_ids is None or NEW_LEAD in type_ids:
        found += [new_lead_record(lead) for _, lead in state.leads.created_after(key, limit, lead_ids)]
        found.sort(key=lambda a: a["_key"])
    return found[:limit]


def select(state, start, end, type_ids=None, lead_ids=None):
    """The activities with start <= activityDate < end (aware datetimes) of
    these types and leads (None: all), by (activityDate, id): dicts as
    activities.json gives them."""
    types = set(type_ids) if type_ids is not None else None
    leads = set(lead_ids) if lead_ids is not None else None
    key, end_key = (start.timestamp(), -1), (end.timestamp(), -1)
    found = stored_after(state, key, float("inf"), types, leads, end_key)
    if types is None or NEW_LEAD in types:
        if leads is not None:
            created = [l for _, l in state.leads.created_after(key, len(leads), leads)]
        else:
            _, segments = state.leads.in_range("createdAt", start.timestamp(), end.timestamp())
            created = [lead for block, part in segments
                       for lead in (part if block is None else (block.lead(i) for i in part))]
        found += [new_lead_record(l) for l in created]
        found = [a for a in found if a["_key"] < end_key]
        found.sort(key=lambda a: a["_key"])
    return [public(a) for a in found]


# --- paging -------------------------------------------------------------------------

def position_token(when, act_id, empty=0):
    # the same form as emu_bulk's, which the tests' hand-made tokens use;
    # an empty page's adds how many empty pages led there, as Marketo's
    # token moves on through time even where it finds nothing
    raw = json.dumps([iso(when), act_id] + ([empty] if empty else [])).encode()
    return base64.b32encode(raw).decode()


def token_position(token):
    """(time, id, empty pages so far) of a token."""
    api = _api()
    if not token:
        raise api.ApiError("701", "nextPageToken cannot be blank")  # ASSUMPTION
    try:
        when, act_id, *empty = json.loads(base64.b32decode(token))
        return parse_time(when, "nextPageToken").timestamp(), int(act_id), int(empty[0]) if empty else 0
    except (ValueError, TypeError, IndexError):
        raise api.ApiError("1003", "Invalid nextPageToken")  # ASSUMPTION


def paging_token(params):
    api = _api()
    since = params.get("sinceDatetime")
    if not since:
        raise api.ApiError("701", "sinceDatetime cannot be blank")  # ASSUMPTION
    return {"requestId": "", "success": True,
            "nextPageToken": position_token(parse_time(since, "sinceDatetime"), 0)}


def id_list(params, name, limit):
    api = _api()
    text = params.get(name)
    if not text:
        return None
    try:
        ids = [int(v) for v in text.split(",")]
    except ValueError:
        raise api.ApiError("1003", "Invalid %s '%s'" % (name, text))  # ASSUMPTION
    if len(ids) > limit:
        raise api.ApiError("1003", "%s may hold at most %d ids" % (name, limit))  # ASSUMPTION
    return set(ids)


def lead_scope(state, params):
    """The leads of leadIds or listId, or None for all."""
    lead_ids = id_list(params, "leadIds", MAX_LEADS)
    if params.get("listId"):
        try:
            members = state.lists.get(int(params["listId"]), set())
        except ValueError:
            raise _api().ApiError("1003", "Invalid listId")
        lead_ids = set(members) if lead_ids is None else lead_ids & members
    return lead_ids


def page(state, params, fault, select_after, shape=public):
    """One page from the token's position: select_after(key, limit)."""
    batch = emu_objects.batch_size(params)
    when, act_id, empty = token_position(params.get("nextPageToken"))
    key = (when, act_id)
    kind = fault and fault.get("kind")
    if kind == "empty_page":
        found = []
    else:
        if kind == "short_page":
            batch = min(batch, int(fault.get("records", 1)))
        found = select_after(key, batch + 1)     # one more: whether more follow
    records = found[:batch]
    if records:
        key, empty = records[-1]["_key"], 0
    elif kind == "empty_page":
        empty += 1
    return {"requestId": "", "success": True, "result": [shape(r) for r in records],
            "moreResult": kind == "empty_page" or len(found) > batch,
            "nextPageToken": position_token(datetime.fromtimestamp(key[0], timezone.utc),
                                            key[1], empty)}


def activities(state, params, fault):
    api = _api()
    if not params.get("activityTypeIds"):
        raise api.ApiError("701", "activityTypeIds cannot be blank")  # ASSUMPTION
    type_ids = id_list(params, "activityTypeIds", MAX_TYPES)
    lead_ids = lead_scope(state, params)
    return page(state, params, fault, lambda key, n: after(state, key, n, type_ids, lead_ids))


def deleted_leads(state, params, fault):
    def shape(r):
        return {k: r[k] for k in ("id", "marketoGUID", "leadId", "activityDate", "activityTypeId",
                                  "primaryAttributeValueId", "primaryAttributeValue")} | {"attributes": []}
    return page(state, params, fault,
                lambda key, n: stored_after(state, key, n, {DELETE_LEAD}, None), shape)


def lead_changes(state, params, fault):
    """Change Data Value activities of the fields, and New Lead activities
    (the docs: the endpoint returns both).  ASSUMPTION: a New Lead record
    lists the requested fields the new lead has a value for, oldValue
    null; a change of another field is not returned."""
    api = _api()
    if not params.get("fields"):
        raise api.ApiError("701", "fields cannot be blank")  # ASSUMPTION
    fields = params["fields"].split(",")
    for f in fields:
        if f not in api.FIELD:
            raise api.ApiError("1006", "Field '%s' not found" % f)  # ASSUMPTION, as leads.json
    lead_ids = lead_scope(state, params)
    names = [f[0] for f in api.LEAD_FIELDS]

    def select_after(key, n):
        found = []
        while len(found) < n:
            more = after(state, key, n, {NEW_LEAD, CHANGE_DATA_VALUE}, lead_ids)
            found += [a for a in more
                      if a["activityTypeId"] == NEW_LEAD or a["_change"]["name"] in fields]
            if len(more) < n:
                break
            key = more[-1]["_key"]
        return found[:n]

    def shape(r):
        rec = {k: r[k] for k in ("id", "marketoGUID", "leadId", "activityDate", "activityTypeId",
                                 "campaignId")}
        if r["activityTypeId"] == NEW_LEAD:
            lead = r["_lead"]
            rec["fields"] = [{"id": names.index(f) + 1, "name": f, "newValue": lead[f], "oldValue": None}
                             for f in fields if lead.get(f) is not None]
        else:
            rec["fields"] = [r["_change"]]
        rec["attributes"] = r["attributes"]
        return rec
    return page(state, params, fault, select_after, shape)


def types_json():
    return _api().ok([{"id": t[0], "name": t[1], "description": t[2],
                       "primaryAttribute": {"name": t[3][0], "dataType": t[3][1]},
                       "attributes": [{"name": n, "dataType": d} for n, d in t[4]]} for t in TYPES])


def route(state, method, path, params, body, fault):
    """The answer for an activities path, or None for other paths."""
    if method != "GET" or not path.startswith("/rest/v1/activities"):
        return None
    if path == "/rest/v1/activities/types.json":
        return types_json()
    if path == "/rest/v1/activities/pagingtoken.json":
        return paging_token(params)
    with state.lock:
        if path == "/rest/v1/activities.json":
            return activities(state, params, fault)
        if path == "/rest/v1/activities/deletedleads.json":
            return deleted_leads(state, params, fault)
        if path == "/rest/v1/activities/leadchanges.json":
            return lead_changes(state, params, fault)
    return None


# --- control ------------------------------------------------------------------------

def add(state, arg):
    """add-activities: {"count": n, "types": [ids], "leads": [ids], "from":
    iso, "to": iso, "attributes": [{name, value}]}; n activities with
    activityDate spread evenly over [from, to), the k-th of type
    types[k % len] and lead leads[k % len].  Called with state.lock held."""
    n = int(arg["count"])
    types = arg.get("types") or [10]
    leads = arg.get("leads") or SEED_LEADS
    start = parse_time(arg["from"], "from")
    end = parse_time(arg.get("to", arg["from"]), "to")
    span = max(0, int((end - start).total_seconds()))
    attrs = [(a["name"], a["value"]) for a in arg.get("attributes", [])]
    first = state.activity_next_id
    added = []
    for k in range(n):
        when = start + timedelta(seconds=span * k // n if span else 0)
        type_id, lead_id = int(types[k % len(types)]), int(leads[k % len(leads)])
        act_id = first + k
        if type_id == CHANGE_DATA_VALUE:
            added.append(change_record(act_id, lead_id, when, k))
        else:
            campaign, pid, pvalue = primary_of(type_id, k, lead_id)
            added.append(record(act_id, lead_id, when, type_id, campaign, pid, pvalue,
                                attrs or seed_attributes(type_id, k, lead_id)))
    state.activity_next_id = first + n
    state.activities.extend(added)
    state.activities.sort(key=lambda a: a["_key"])
    return {"ok": True, "activities": n, "first_id": first}


def control(state, method, path, arg):
    """Control paths /_emulator/activities, or None.  Called with
    state.lock held."""
    if path != "/_emulator/activities":
        return None
    if method == "POST":
        return add(state, arg or {})
    return [public(a) for a in state.activities]

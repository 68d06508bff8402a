#!/usr/bin/env python3
"""A Marketo Engage REST API emulator for marketo_fdw's tests.

Written from Adobe's documentation (../shared/seeds and marketo-api-notes.md),
not from marketo_fdw's code: the JSON envelope with string error codes in
HTTP 200 bodies, record-level statuses, paging tokens, 300-record limits,
414 for URLs over 8 KB and POST ?_method=GET, token expiry, and the rate,
concurrency and daily limits.  Python 3 standard library only.

It keeps a log of every call and takes injected faults, both driven through
the control API under /_emulator/ (see test/emuctl.py).  Where the docs are
silent, the choice is marked ASSUMPTION.
"""
import argparse
import base64
import bisect
import copy
import itertools
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import MutableMapping
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

# emu_objects imports this module by name; run as a script, it is __main__.
sys.modules.setdefault("marketo_emulator", sys.modules[__name__])
import emu_objects  # noqa: E402
import emu_program_members  # noqa: E402
import emu_bulk  # noqa: E402
import emu_catalog  # noqa: E402
import emu_activities  # noqa: E402

MAX_URL = 8192
# Request bodies: the notes say 1 MB (413 above it).  ASSUMPTION: 1 MB is
# 1,048,576 bytes, and the gateway answers 413 before Marketo sees the call.
MAX_BODY = 1024 * 1024
MAX_BATCH = 300
MAX_MATCHES = 1000

# REST name, displayName, dataType, length, readOnly, searchable
LEAD_FIELDS = [
    ("id", "Id", "integer", None, True, True),
    ("email", "Email Address", "email", 255, False, True),
    ("firstName", "First Name", "string", 255, False, False),
    ("middleName", "Middle Name", "string", 255, False, False),
    ("lastName", "Last Name", "string", 255, False, False),
    ("company", "Company Name", "string", 255, False, False),
    ("title", "Job Title", "string", 255, False, False),
    ("phone", "Phone Number", "phone", 255, False, False),
    ("website", "Website", "url", 255, False, False),
    ("leadScore", "Lead Score", "score", None, False, False),
    ("numberOfEmployees", "Num Employees", "integer", None, False, False),
    ("annualRevenue", "Annual Revenue", "currency", None, False, False),
    ("unsubscribed", "Unsubscribed", "boolean", None, False, False),
    ("dateOfBirth", "Date of Birth", "date", None, False, False),
    ("leadSource", "Lead Source", "string", 255, False, False),
    ("sfdcLeadId", "SFDC Lead Id", "string", 255, False, True),
    ("SICCode", "SIC Code", "string", 255, False, False),
    ("acmeAccessCode", "Acme Access Code", "string", 255, False, True),
    ("customerTier", "Customer Tier", "integer", None, False, True),
    ("notes", "Notes", "textarea", 30000, False, False),
    ("createdAt", "Created At", "datetime", None, True, False),
    ("updatedAt", "Updated At", "datetime", None, True, False),
]
FIELD = {f[0]: f for f in LEAD_FIELDS}
# Custom fields created through the schema API join LEAD_FIELDS until reset.
BASE_LEAD_FIELDS = list(LEAD_FIELDS)
BASE_CUSTOM_LEAD_FIELDS = {"acmeAccessCode", "customerTier", "notes"}
CUSTOM_LEAD_FIELDS = set(BASE_CUSTOM_LEAD_FIELDS)
# A field only the retired SOAP API knows: describe lists it without "rest".
SOAP_ONLY = ("LeadRole", "Lead Role", "string", 50)
DEFAULT_FIELDS = ["id", "email", "updatedAt", "createdAt", "firstName", "lastName"]
STRING_TYPES = {"string", "email", "phone", "url", "text", "textarea", "reference"}
INT_TYPES = {"integer", "score", "percent"}

DEFAULT_CONFIG = {
    "token_ttl": 3600, "page_size": 300, "rate_limit": 100,
    "rate_window": 20,          # seconds; tests shorten it
    "concurrency_limit": 10, "daily_quota": 50000,
    "member_limit": 100000,     # program members a filtered query may cover (seed 001)
    "client_id": "emu-client", "client_secret": "emu-secret",
}


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_leads(extra):
    rows = [
        dict(email="abe@usa.gov", firstName="Abraham", lastName="Lincoln", company="USA", leadScore=45, customerTier=1, unsubscribed=False),
        dict(email="george@usa.gov", firstName="George", lastName="Washington", company="USA", leadScore=80, customerTier=1, unsubscribed=False),
        dict(email="marge.simpson@fox.com", firstName="Marge", lastName="Simpson", company="Fox", leadScore=12, customerTier=2, dateOfBirth="1956-03-19"),
        dict(email="zoe@example.de", firstName="Zoë", lastName="Müller", company="Müller GmbH", customerTier=2),
        dict(email="ceo@acme.example", firstName="Wile", lastName="Coyote", company="Acme, Inc.", annualRevenue=1250000.5, numberOfEmployees=42, customerTier=3),
        dict(email="no.name@example.com", customerTier=3),
        dict(email="theresa@example.co.uk", firstName="Theresa", lastName="May", title="PM", leadSource="Web", unsubscribed=True),
        dict(email="justin@example.ca", firstName="Justin", lastName="Trudeau", phone="+1 555 0100", website="www.example.ca"),
        dict(email="kataldar@klooblept.com", firstName="Kataldar", postalCode=None),
        dict(email="meera@housestark.com", firstName="Meera", lastName="Reed", sfdcLeadId="00Q000000000001"),
        dict(email="jon@housestark.com", firstName="Jon", lastName="Umber", acmeAccessCode="ABC-1"),
        dict(email="lyanna@housestark.com", firstName="Lyanna", lastName="Mormont", notes="Line one\nLine two"),
    ]
    for k in range(1, extra + 1):
        rows.append(dict(email="user%d@example.com" % k, firstName="User", lastName="Number %d" % k,
                         leadScore=k % 100, customerTier=k % 5))
    leads = LeadStore()
    for i, r in enumerate(rows):
        r.pop("postalCode", None)
        lead = dict(r, id=1001 + i)
        lead["createdAt"] = lead["updatedAt"] = "2024-05-17T22:11:45Z"
        leads[lead["id"]] = lead
    return leads


def iso_time(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


DAY_PREFIX = {}


def iso_seconds(t):
    """iso_time of whole seconds, without datetime's cost per call: a
    million generated leads' times are formatted per bulk file."""
    day, sec = divmod(t, 86400)
    prefix = DAY_PREFIX.get(day)
    if prefix is None:
        prefix = DAY_PREFIX[day] = iso_time(day * 86400)[:11]
    hour, rest = divmod(sec, 3600)
    return "%s%02d:%02d:%02dZ" % (prefix, hour, rest // 60, rest % 60)


def epoch(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# Values that try a CSV reader, one set per generated "tricky" lead, in turn:
# a double quote, a comma, LF, CRLF, a lone CR, a NUL byte, U+2028 (a line
# separator to Unicode, not to RFC 4180), the text "null", non-ASCII text.
TRICKY = [
    {"company": 'Say "hi", "bye"'},
    {"company": "Acme, Inc."},
    {"notes": "line one\nline two"},
    {"notes": "line one\r\nline two"},
    {"notes": "carriage\rreturn"},
    {"notes": "nul\x00byte"},
    {"notes": "line\u2028separator"},
    {"company": "null"},
    {"firstName": "Zo\u00eb", "lastName": "\u5c71\u7530 M\u00fcller", "company": "\u6771\u4eac\u682a\u5f0f\u4f1a\u793e"},
]


class GeneratedLeads:
    """count leads made by generate-leads, ids first.., createdAt (and
    updatedAt) spread evenly over [start, end] (epoch seconds).  They are
    computed from their index when read, never stored: a million of them
    cost nothing until one is changed (LeadStore then keeps its own copy)."""

    def __init__(self, first, count, start, end, tricky=False):
        self.first, self.count, self.start, self.end = first, count, int(start), int(end)
        self.tricky = tricky

    def holds(self, lead_id):
        return self.first <= lead_id < self.first + self.count

    def time_of(self, k):
        # whole seconds, non-decreasing in k: the block is in createdAt order
        return self.start + (self.end - self.start) * k // max(1, self.count - 1)

    def lead(self, lead_id):
        k = lead_id - self.first
        t = iso_seconds(self.time_of(k))
        rec = {"id": lead_id, "email": "gen%d@example.com" % lead_id, "firstName": "Gen",
               "lastName": "Lead %d" % lead_id, "createdAt": t, "updatedAt": t}
        if self.tricky:
            rec.update(TRICKY[k % len(TRICKY)])
        return rec

    def csv_lines(self, ids, fields, delimiter, quote):
        """The CSV records of these ids (ascending, all in this block, not
        tricky), column by column: what rendering lead(i) gives, faster."""
        def fixed(text):
            return itertools.repeat(quote(text, delimiter))

        def pattern(fmt):
            quoted = quote(fmt % 0, delimiter) != fmt % 0
            fmt = '"%s"' % fmt if quoted else fmt
            return [fmt % i for i in ids]
        columns = []
        for f in fields:
            if f == "id":
                columns.append(map(str, ids))
            elif f == "email":
                columns.append(pattern("gen%d@example.com"))
            elif f == "firstName":
                columns.append(fixed("Gen"))
            elif f == "lastName":
                columns.append(pattern("Lead %d"))
            elif f in ("createdAt", "updatedAt"):
                columns.append([iso_seconds(self.time_of(i - self.first)) for i in ids])
            else:
                columns.append(fixed("null"))
        return map(delimiter.join, zip(*columns)) if columns else []

    def index_after(self, key):
        """The first index whose (time, id) is after key."""
        return bisect.bisect_right(range(self.count), key,
                                   key=lambda k: (self.time_of(k), self.first + k))

    def indexes_between(self, start, end):
        """range of the indexes with start <= time <= end."""
        ks = range(self.count)
        return range(bisect.bisect_left(ks, start, key=self.time_of),
                     bisect.bisect_right(ks, end, key=self.time_of))


class LeadStore(MutableMapping):
    """The leads by id: sparse dicts (an absent field is null) plus blocks
    of generated leads.  Reading a generated lead through [] or get() copies
    it into rows, so that a caller's changes stay; peek() and values() read
    without copying.  ids overridden or deleted in a block are "shadowed"."""

    def __init__(self):
        self.rows = {}
        self.blocks = []
        self.shadowed = set()

    def block_of(self, lead_id):
        if not isinstance(lead_id, int) or lead_id in self.shadowed:
            return None
        return next((b for b in self.blocks if b.holds(lead_id)), None)

    def peek(self, lead_id):
        lead = self.rows.get(lead_id)
        if lead is not None:
            return lead
        b = self.block_of(lead_id)
        return b.lead(lead_id) if b else None

    def __getitem__(self, lead_id):
        lead = self.rows.get(lead_id)
        if lead is not None:
            return lead
        b = self.block_of(lead_id)
        if b is None:
            raise KeyError(lead_id)
        lead = self.rows[lead_id] = b.lead(lead_id)
        self.shadowed.add(lead_id)
        return lead

    def __setitem__(self, lead_id, lead):
        if self.block_of(lead_id) is not None:
            self.shadowed.add(lead_id)
        self.rows[lead_id] = lead

    def __delitem__(self, lead_id):
        if lead_id in self.rows:
            del self.rows[lead_id]      # a block's id stays shadowed: deleted
        elif self.block_of(lead_id) is not None:
            self.shadowed.add(lead_id)
        else:
            raise KeyError(lead_id)

    def __contains__(self, lead_id):
        return lead_id in self.rows or self.block_of(lead_id) is not None

    def block_ids(self, b, ks=None):
        ids = range(b.first + ks.start, b.first + ks.stop) if ks is not None \
            else range(b.first, b.first + b.count)
        if self.shadowed:
            return (i for i in ids if i not in self.shadowed)
        return ids

    def __iter__(self):
        yield from list(self.rows)
        for b in self.blocks:
            yield from self.block_ids(b)

    def __len__(self):
        return len(self.rows) + sum(b.count for b in self.blocks) - len(self.shadowed)

    def values(self):
        yield from list(self.rows.values())
        for b in self.blocks:
            for i in self.block_ids(b):
                yield b.lead(i)

    def items(self):
        for lead in self.values():
            yield lead["id"], lead

    def next_id(self):
        """One more than the highest id (1000 with no leads)."""
        top = max(self.rows, default=1000)
        for b in self.blocks:
            i = b.first + b.count - 1
            while i >= b.first and i in self.shadowed:
                i -= 1
            top = max(top, i) if i >= b.first else top
        return top + 1

    def add_block(self, count, start, end, tricky=False):
        b = GeneratedLeads(self.next_id(), count, start, end, tricky)
        self.blocks.append(b)
        return b

    def created_after(self, key, limit, lead_ids=None):
        """Up to limit (createdAt epoch, lead) pairs after key = (epoch,
        id), in that order.  Generated blocks are in createdAt order, so
        this bisects them rather than sorting every lead."""
        if lead_ids is not None:
            leads = (self.peek(i) for i in lead_ids)
            found = [((epoch(l["createdAt"]), l["id"]), l) for l in leads
                     if l is not None and l.get("createdAt")]
        else:
            found = [((epoch(l["createdAt"]), l["id"]), l) for l in list(self.rows.values())
                     if l.get("createdAt")]
            for b in self.blocks:
                k, taken = b.index_after(key), 0
                while k < b.count and taken < limit:
                    i = b.first + k
                    if i not in self.shadowed:
                        found.append(((b.time_of(k), i), b.lead(i)))
                        taken += 1
                    k += 1
        found = [f for f in found if f[0] > key]
        found.sort(key=lambda f: f[0])
        return found[:limit]

    def in_range(self, field, start, end):
        """The leads whose field (createdAt or updatedAt) is in [start,
        end] (epoch seconds): their count and segments in id order, each
        (None, [lead dicts]) or (block, [ids in it])."""
        explicit = sorted(i for i, l in list(self.rows.items())
                          if l.get(field) and start <= epoch(l[field]) <= end)
        count = len(explicit)
        segments, e = [], 0
        for b in sorted(self.blocks, key=lambda b: b.first):
            # a generated lead's updatedAt is its createdAt until it
            # changes, and then it is in rows
            ids = self.block_ids(b, b.indexes_between(start, end))
            ids = ids if isinstance(ids, range) else list(ids)
            count += len(ids)
            pos = 0
            while e < len(explicit) and explicit[e] < b.first + b.count:
                cut = bisect.bisect_left(ids, explicit[e], pos)
                if cut > pos:
                    segments.append((b, ids[pos:cut]))
                segments.append((None, [self.rows[explicit[e]]]))
                pos, e = cut, e + 1
            if pos < len(ids):
                segments.append((b, ids[pos:]))
        if e < len(explicit):
            segments.append((None, [self.rows[i] for i in explicit[e:]]))
        return count, segments


class State:
    def __init__(self, extra):
        self.lock = threading.Lock()
        self.extra = extra
        self.reset()

    def reset(self):
        LEAD_FIELDS[:] = BASE_LEAD_FIELDS
        FIELD.clear()
        FIELD.update({f[0]: f for f in LEAD_FIELDS})
        CUSTOM_LEAD_FIELDS.clear()
        CUSTOM_LEAD_FIELDS.update(BASE_CUSTOM_LEAD_FIELDS)
        self.list_pages = {}      # nextPageToken -> offset, for page_of()
        # Static lists and their members (lead ids).
        self.lists = {1001: {1001, 1002, 1003}, 1002: set(), 3379: {1001, 1002}}
        # Programs of the asset API, with their costs and tags.
        self.programs = {
            1044: {"id": 1044, "name": "Big Blue Thing Product Launch", "type": "Default",
                   "channel": "Webinar", "status": "", "workspace": "Default",
                   "costs": [{"startDate": "2024-01-01", "cost": 500, "note": "Venue"}],
                   "tags": [{"tagType": "Region", "tagValue": "EMEA"}]},
            1045: {"id": 1045, "name": "Quiet Program", "type": "Default", "channel": "Email Blast",
                   "status": "", "workspace": "Default", "costs": [], "tags": []},
            1046: {"id": 1046, "name": "Big Webinar", "type": "Event", "channel": "Webinar",
                   "status": "", "workspace": "Default", "costs": [], "tags": []},
        }
        # A lead's memberships, in the shapes of seed 000's examples.
        self.memberships = {
            1001: {"listMembership": [
                       {"listId": 3379, "createdAt": "2016-05-17T19:32:44Z", "updatedAt": "2016-05-17T19:32:44Z"},
                       {"listId": 2792, "createdAt": "2009-05-19T18:29:15Z", "updatedAt": "2009-05-19T18:29:15Z"},
                       {"listId": 42, "createdAt": "2009-04-22T19:24:22Z", "updatedAt": "2009-04-22T19:24:22Z"}],
                   "programMembership": [
                       {"id": 1044, "progressionStatus": "Sent", "isExhausted": False, "acquiredBy": False,
                        "reachedSuccess": False, "membershipDate": "2016-05-27T19:50:29Z",
                        "updatedAt": "2016-05-27T19:50:29Z"}],
                   "smartCampaignMembership": [
                       {"smartCampaignId": 3746, "createdAt": "2018-06-01T18:00:04Z", "updatedAt": "2018-06-01T18:00:06Z"},
                       {"smartCampaignId": 3678, "createdAt": "2015-04-06T18:37:30Z", "updatedAt": "2015-04-06T18:37:41Z"}]},
            1002: {"listMembership": [
                       {"listId": 3379, "createdAt": "2017-01-02T03:04:05Z", "updatedAt": "2017-01-02T03:04:05Z"}]},
        }
        self.schema_extra = {}
        self.config = dict(DEFAULT_CONFIG)
        self.leads = seed_leads(self.extra)
        self.calls = []
        self.faults = []
        self.tokens = {}          # token -> expiry time
        self.current_token = None
        self.pages = {}           # nextPageToken -> (query key, offset)
        self.recent = []          # times of recent REST calls, for the rate limit
        self.in_flight = 0
        self.daily = 0
        self.seq = 0
        emu_objects.reset(self)
        emu_program_members.reset(self)
        emu_catalog.reset(self)
        emu_bulk.reset(self)
        emu_activities.reset(self)

    def take_fault(self, method, path):
        for f in self.faults:
            if f["kind"] in emu_bulk.FAULT_KINDS:
                continue        # taken by emu_bulk.take_fault, by the calls they concern
            # "path" is a prefix; "suffix", if given, must end the path too
            if path.startswith(f.get("path", "")) and path.endswith(f.get("suffix", "")) \
                    and f.get("method", method) == method:
                f["count"] = f.get("count", 1) - 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return dict(f)
        return None


STATE = None


def envelope_error(code, message):
    return {"requestId": "%x#%x" % (secrets.randbits(16), int(time.time() * 1000)),
            "success": False, "errors": [{"code": str(code), "message": message}]}


def ok(result, **extra):
    body = {"requestId": "%x#%x" % (secrets.randbits(16), int(time.time() * 1000)),
            "success": True, "result": result}
    body.update(extra)
    return body


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def norm(field, value):
    """How Marketo compares a stored value with a filter value.

    ASSUMPTION: strings match case-insensitively with surrounding blanks
    trimmed (Marketo's lead database is case-insensitive for email); integers
    match numerically."""
    if value is None:
        return None
    if FIELD[field][2] in INT_TYPES:
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError("1003", "Invalid value '%s' for field '%s'" % (value, field))
    return str(value).strip().lower()


def page_token():
    return base64.b32encode(secrets.token_bytes(11)).decode()  # ends in '=' padding


def query_leads(params):
    st = STATE
    ftype = params.get("filterType")
    fvals = params.get("filterValues")
    if not ftype:
        raise ApiError("701", "filterType cannot be blank")
    if not fvals:
        raise ApiError("701", "filterValues cannot be blank")
    if ftype not in FIELD or not FIELD[ftype][5]:
        # ASSUMPTION: the code for a filterType that is not searchable.
        raise ApiError("1003", "Invalid filterType '%s'" % ftype)
    values = fvals.split(",")
    if len(values) > MAX_BATCH:
        # ASSUMPTION: the code for more than 300 filterValues.
        raise ApiError("1003", "Too many values in filterValues, max %d" % MAX_BATCH)
    fields = params.get("fields")
    fields = fields.split(",") if fields else list(DEFAULT_FIELDS)
    for f in fields:
        if f not in FIELD:
            # ASSUMPTION: 1006 for an unknown name in fields=.
            raise ApiError("1006", "Field '%s' not found" % f)
    try:
        batch = int(params.get("batchSize", MAX_BATCH))
    except ValueError:
        raise ApiError("1003", "Invalid batchSize")
    if batch < 1 or batch > MAX_BATCH:
        raise ApiError("1003", "batchSize must be between 1 and 300")
    wanted = {norm(ftype, v) for v in values}
    with st.lock:
        if ftype == "id":
            # by key, not by a pass over every lead (a million, generated)
            matches = sorted(i for i in wanted if i in st.leads)
        else:
            matches = sorted(i for i, lead in st.leads.items() if norm(ftype, lead.get(ftype)) in wanted)
        if len(matches) > MAX_MATCHES:
            raise ApiError("1003", "Too many results match the filter")
        # ASSUMPTION: a nextPageToken is an offset into the live result, not a
        # snapshot, so records changed between pages shift the pages; clients
        # must not change what they are still paging through.
        offset = 0
        token = params.get("nextPageToken")
        if token:
            if token not in st.pages:
                raise ApiError("1003", "Invalid nextPageToken")  # ASSUMPTION
            offset = st.pages.pop(token)
        size = min(batch, st.config["page_size"])
        page = matches[offset:offset + size]
        records = []
        for i in page:
            lead = st.leads.peek(i)
            rec = {"id": lead["id"]}
            for f in fields:
                # A requested field with no value is left out (the docs: implicitly null).
                if lead.get(f) is not None:
                    rec[f] = lead[f]
            records.append(rec)
        if offset + size < len(matches):
            tok = page_token()
            st.pages[tok] = offset + size
            return ok(records, moreResult=True, nextPageToken=tok)
        return ok(records, moreResult=False)


def lead_by_id(lead_id, params):
    fields = params.get("fields")
    fields = fields.split(",") if fields else list(DEFAULT_FIELDS)
    with STATE.lock:
        lead = STATE.leads.peek(int(lead_id))
        if not lead:
            return ok([])
        return ok([{f: lead[f] for f in ["id"] + fields if f in lead and lead[f] is not None}])


def check_record(rec):
    """Reasons a record cannot be written, or None."""
    for key, value in rec.items():
        if key not in FIELD:
            return ("1006", "Field '%s' not found" % key)
        if FIELD[key][4] and key != "id":
            return ("1003", "Field '%s' is read only" % key)  # ASSUMPTION on the code
        length = FIELD[key][3]
        if length and isinstance(value, str) and len(value) > length:
            return ("1003", "Value for field '%s' exceeds %d characters" % (key, length))
    email = rec.get("email")
    if isinstance(email, str) and not email.isascii():
        # The docs: email accepts ASCII characters only.  ASSUMPTION on the code.
        return ("1003", "Invalid email address")
    return None


def sync_leads(body):
    st = STATE
    action = body.get("action", "createOrUpdate")
    if action not in ("createOnly", "updateOnly", "createOrUpdate", "createDuplicate"):
        raise ApiError("1003", "Invalid action '%s'" % action)
    lookup = body.get("lookupField", "email")
    if lookup not in FIELD:
        raise ApiError("1003", "Invalid lookupField '%s'" % lookup)
    records = body.get("input")
    if not records:
        raise ApiError("701", "input cannot be blank")
    if len(records) > MAX_BATCH:
        raise ApiError("1003", "Too many records in input, max %d" % MAX_BATCH)  # ASSUMPTION
    results = []
    with st.lock:
        for rec in records:
            if not isinstance(rec, dict):
                results.append({"status": "skipped", "reasons": [{"code": "1003", "message": "Invalid record"}]})
                continue
            problem = check_record(rec)
            key = rec.get(lookup)
            if problem is None and action != "createDuplicate" and key is None:
                problem = ("1003", "Value for lookup field '%s' not found" % lookup)  # ASSUMPTION
            if problem:
                results.append({"status": "skipped", "reasons": [{"code": problem[0], "message": problem[1]}]})
                continue
            if action == "createDuplicate":
                found = []
            elif lookup == "id":
                # by key, not by a pass over every lead
                found = [norm("id", key)] if norm("id", key) in st.leads else []
            else:
                found = [i for i, lead in st.leads.items() if norm(lookup, lead.get(lookup)) == norm(lookup, key)]
            if len(found) > 1:
                results.append({"status": "skipped", "reasons": [{"code": "1007", "message": "Multiple lead match lookup criteria"}]})
            elif found and action == "createOnly":
                results.append({"status": "skipped", "reasons": [{"code": "1005", "message": "Lead already exists"}]})
            elif not found and action == "updateOnly":
                results.append({"status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]})
            elif found:
                lead = st.leads[found[0]]
                lead.update({k: v for k, v in rec.items() if k != "id"})
                lead["updatedAt"] = now_iso()
                results.append({"id": lead["id"], "status": "updated"})
            else:
                new_id = st.leads.next_id()
                lead = {k: v for k, v in rec.items() if k != "id"}
                lead["id"] = new_id
                lead["createdAt"] = lead["updatedAt"] = now_iso()
                st.leads[new_id] = lead
                results.append({"id": new_id, "status": "created"})
    return results


def delete_leads(body):
    records = body.get("input")
    if not records:
        raise ApiError("701", "input cannot be blank")
    if len(records) > MAX_BATCH:
        raise ApiError("1003", "Too many records in input, max %d" % MAX_BATCH)
    results = []
    with STATE.lock:
        for rec in records:
            lead_id = rec.get("id") if isinstance(rec, dict) else None
            if lead_id in STATE.leads:
                del STATE.leads[lead_id]
                results.append({"id": lead_id, "status": "deleted"})
            else:
                results.append({"id": lead_id, "status": "skipped",
                                "reasons": [{"code": "1004", "message": "Lead not found"}]})
    return results


# Field schemas (seeds 000-003).  Lead and program member fields can be
# created and updated; opportunity and named account fields only read.
SCHEMA_BASES = {
    "/rest/v1/leads/schema/fields": "leads",
    "/rest/v1/programs/members/schema/fields": "programmembers",
    "/rest/v1/opportunities/schema/fields": "opportunities",
    "/rest/v1/namedaccounts/schema/fields": "namedaccounts",
}
SCHEMA_WRITABLE = {"leads", "programmembers"}
SCHEMA_UPDATABLE = {"displayName", "description", "isHidden", "isHtmlEncodingInEmail", "isSensitive"}
SCHEMA_TYPES = {"string", "email", "phone", "url", "text", "textarea", "integer", "score",
                "percent", "boolean", "datetime", "date", "currency", "float", "reference"}
PROGRAM_MEMBER_FIELDS = [
    ("membershipDate", "Membership Date", "datetime", None, False),
    ("statusName", "Status Name", "string", 255, False),
    ("reachedSuccess", "Reached Success", "boolean", None, False),
    ("pMCFField", "PMCF Field", "string", 255, True),
]


def schema_record(name, display, dtype, length, custom):
    rec = {"displayName": display, "name": name, "description": None, "dataType": dtype}
    if length:
        rec["length"] = length
    rec.update({"isHidden": False, "isHtmlEncodingInEmail": dtype in STRING_TYPES,
                "isSensitive": False, "isCustom": custom, "isApiCreated": False})
    return rec


def schema_list(kind):
    """The current field records of one schema."""
    if kind == "leads":
        return [STATE.schema_extra.get(f[0]) or schema_record(f[0], f[1], f[2], f[3], f[0] in CUSTOM_LEAD_FIELDS)
                for f in LEAD_FIELDS]
    if kind == "programmembers":
        return [STATE.schema_extra.get("pm:" + f[0]) or schema_record(*f) for f in PROGRAM_MEMBER_FIELDS] + \
            [r for k, r in STATE.schema_extra.items() if k.startswith("pm+")]
    return [schema_record(f["name"], f["displayName"], f["dataType"], f.get("length"), False)
            for f in emu_objects.OBJECTS[kind]["fields"]]


def schema_fields(method, path, params, body):
    """The field schema endpoints; None for other paths."""
    base = next((b for b in SCHEMA_BASES if path == b + ".json" or path.startswith(b + "/")), None)
    if base is None:
        return None
    kind = SCHEMA_BASES[base]
    name = path[len(base) + 1:-len(".json")] if path.startswith(base + "/") else None
    with STATE.lock:
        records = schema_list(kind)
        if method == "GET" and name is None:
            return page_of(records, params)
        if method == "GET":
            # ASSUMPTION: an unknown name is an empty result, not an error.
            return ok([r for r in records if r["name"] == name])
        if method != "POST" or kind not in SCHEMA_WRITABLE:
            raise ApiError("610", "Requested resource not found")
        if not isinstance(body, dict) or not isinstance(body.get("input"), list):
            raise ApiError("609", "Invalid JSON")
        if name is None:
            return ok([create_field(kind, records, rec) for rec in body["input"]])
        if len(body["input"]) != 1:
            raise ApiError("1003", "input must hold one field")
        return ok([update_field(kind, records, name, body["input"][0])])


def field_skip(name, code, message):
    return {"name": name, "status": "skipped", "reasons": [{"code": code, "message": message}]}


def create_field(kind, records, rec):
    name = rec.get("name")
    missing = [k for k in ("name", "displayName", "dataType") if not rec.get(k)]
    if missing:
        return field_skip(name, "1003", "Value for required attribute '%s' not found" % missing[0])
    if not name[0].isalpha() or not all(c.isalnum() or c == "_" for c in name):
        return field_skip(name, "1003", "Invalid field name '%s'" % name)
    if rec["dataType"] not in SCHEMA_TYPES:
        return field_skip(name, "1003", "Invalid dataType '%s'" % rec["dataType"])
    if any(r["name"] == name for r in records):
        # ASSUMPTION: the code for an existing name.
        return field_skip(name, "1005", "Field '%s' already exists" % name)
    length = 255 if rec["dataType"] in ("string", "email", "phone", "url") else None
    new = schema_record(name, rec["displayName"], rec["dataType"], length, True)
    new.update({k: rec[k] for k in ("description", "isHidden", "isHtmlEncodingInEmail", "isSensitive") if k in rec})
    new["isApiCreated"] = True
    if kind == "leads":
        field = (name, rec["displayName"], rec["dataType"], length, False, rec["dataType"] in ("string", "email", "integer"))
        LEAD_FIELDS.append(field)
        FIELD[name] = field
        CUSTOM_LEAD_FIELDS.add(name)
        STATE.schema_extra[name] = new
    else:
        STATE.schema_extra["pm+" + name] = new
    return {"name": name, "status": "created"}


def update_field(kind, records, name, changes):
    current = next((r for r in records if r["name"] == name), None)
    if current is None:
        return field_skip(name, "1013", "Field '%s' not found" % name)  # ASSUMPTION on the code
    bad = [k for k in changes if k not in SCHEMA_UPDATABLE]
    if bad:
        return field_skip(name, "1003", "Attribute '%s' cannot be updated" % bad[0])
    updated = dict(current, **changes)
    key = name if kind == "leads" else ("pm:" + name if any(f[0] == name for f in PROGRAM_MEMBER_FIELDS) else "pm+" + name)
    STATE.schema_extra[key] = updated
    return {"name": name, "status": "updated"}


def list_members(method, path, params, body):
    """GET, POST and DELETE /rest/v1/lists/{listId}/leads.json (notes,
    "Static lists"); None for other paths."""
    parts = path.split("/")
    if len(parts) != 6 or parts[:4] != ["", "rest", "v1", "lists"] or parts[5] != "leads.json":
        return None
    try:
        list_id = int(parts[4])
    except ValueError:
        raise ApiError("1003", "Invalid list id '%s'" % parts[4])
    with STATE.lock:
        members = STATE.lists.get(list_id)
        if members is None:
            raise ApiError("1013", "List '%d' not found" % list_id)  # ASSUMPTION on the code
        if method == "GET":
            fields = params["fields"].split(",") if params.get("fields") else list(DEFAULT_FIELDS)
            for f in fields:
                if f not in FIELD:
                    raise ApiError("1006", "Field '%s' not found" % f)
            records = []
            for lead_id in sorted(members):
                lead = STATE.leads.peek(lead_id)
                if lead:
                    rec = {"id": lead_id}
                    rec.update({f: lead[f] for f in fields if lead.get(f) is not None})
                    records.append(rec)
            return page_of(records, params, more_result=False)
        if method not in ("POST", "DELETE"):
            raise ApiError("605", "Request method '%s' not supported" % method)
        records = body.get("input") if isinstance(body, dict) else None
        if not records:
            raise ApiError("701", "input cannot be blank")
        if len(records) > MAX_BATCH:
            raise ApiError("1003", "Too many records in input, max %d" % MAX_BATCH)
        results = []
        for rec in records:
            lead_id = rec.get("id") if isinstance(rec, dict) else None
            if lead_id not in STATE.leads:
                results.append({"id": lead_id, "status": "skipped",
                                "reasons": [{"code": "1004", "message": "Lead not found"}]})
            elif method == "POST":
                members.add(lead_id)
                results.append({"id": lead_id, "status": "added"})
            elif lead_id in members:
                members.discard(lead_id)
                results.append({"id": lead_id, "status": "removed"})
            else:
                # ASSUMPTION: removing a lead that is not a member is a skip.
                results.append({"id": lead_id, "status": "skipped",
                                "reasons": [{"code": "1004", "message": "Lead not in list"}]})
        return ok(results)


# When the emulator's programs were created and last changed.  ASSUMPTION:
# these times; a program added by the members control is of 2024-01-01.
PROGRAM_TIMES = {1044: ("2024-01-10T09:00:00Z", "2024-04-02T10:00:00Z"),
                 1045: ("2024-01-20T08:00:00Z", "2024-02-03T08:00:00Z"),
                 1046: ("2024-02-01T12:00:00Z", "2024-02-01T12:00:00Z")}
MAX_ASSETS = 200
NO_ASSETS = "No assets found for the given search criteria."


def asset_time(text, name):
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()
    except ValueError:
        raise ApiError("1003", "Invalid value '%s' for %s" % (text, name))  # ASSUMPTION on the code


def program_listed(program):
    """A program as Get Programs (browse) shows it: the docs' sample, which
    has no tags and no costs."""
    created, updated = PROGRAM_TIMES.get(program["id"], ("2024-01-01T00:00:00Z",) * 2)
    created, updated = program.get("createdAt", created), program.get("updatedAt", updated)
    return {"id": program["id"], "name": program["name"], "description": "",
            # The docs' samples write times as "2015-11-18T15:25:35Z+0000".
            "createdAt": created + "+0000", "updatedAt": updated + "+0000",
            # ASSUMPTION: the emulator's programs are Default or Event
            # programs, whose UI links start PG; one folder holds them all.
            "url": "https://app-emulator.marketo.com/#PG%dA1" % program["id"],
            "type": program["type"], "channel": program["channel"],
            "folder": {"type": "Folder", "value": 19, "folderName": "Programs"},
            "status": program["status"], "workspace": program["workspace"], "headStart": False}


def asset_programs(method, path, params):
    """GET /rest/asset/v1/programs.json (the docs' "Browse" and "By Date
    Range"); None for other paths.  maxReturn (default 20, at most 200) and
    offset page it; earliestUpdatedAt and latestUpdatedAt keep the programs
    created or updated within the range; status and the notes' filterType
    (id, programId, folderId, workspace) with filterValues narrow it.
    ASSUMPTION: programs come in id order, both ends of the range are
    inclusive, either may be given alone, and maxReturn over 200 is 1003."""
    if path != "/rest/asset/v1/programs.json" or method != "GET":
        return None
    try:
        max_return = int(params.get("maxReturn", 20))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise ApiError("1003", "Invalid maxReturn or offset")
    if not 1 <= max_return <= MAX_ASSETS or offset < 0:
        raise ApiError("1003", "maxReturn must be between 1 and %d, offset 0 or more" % MAX_ASSETS)
    low = asset_time(params["earliestUpdatedAt"], "earliestUpdatedAt") if params.get("earliestUpdatedAt") else None
    high = asset_time(params["latestUpdatedAt"], "latestUpdatedAt") if params.get("latestUpdatedAt") else None
    ftype = params.get("filterType")
    if ftype and ftype not in ("id", "programId", "folderId", "workspace"):
        raise ApiError("1003", "Invalid filterType '%s'" % ftype)
    values = set((params.get("filterValues") or "").split(",")) if ftype else None

    def within(text):
        t = asset_time(text[:-len("+0000")], "time")
        return (low is None or t >= low) and (high is None or t <= high)
    with STATE.lock:
        found = []
        for program_id in sorted(STATE.programs):
            rec = program_listed(STATE.programs[program_id])
            if (low is not None or high is not None) and not (within(rec["createdAt"]) or within(rec["updatedAt"])):
                continue
            if params.get("status") and rec["status"] != params["status"]:
                continue
            if ftype in ("id", "programId") and str(program_id) not in values:
                continue
            if ftype == "folderId" and str(rec["folder"]["value"]) not in values:
                continue
            if ftype == "workspace" and rec["workspace"] not in values:
                continue
            found.append(rec)
    page = found[offset:offset + max_return]
    if not page:
        # The asset API's "nothing found" (notes): success, no result.
        return {"success": True, "warnings": [NO_ASSETS]}
    return ok(page, warnings=[], errors=[])


def asset_program(method, path, form):
    """GET and POST /rest/asset/v1/program/{id}.json; None for other paths."""
    prefix = "/rest/asset/v1/program/"
    if not path.startswith(prefix) or not path.endswith(".json"):
        return None
    try:
        program_id = int(path[len(prefix):-len(".json")])
    except ValueError:
        raise ApiError("1003", "Invalid program id")
    with STATE.lock:
        program = STATE.programs.get(program_id)
        if program is None:
            if method == "GET":
                # The asset API's "nothing found" (notes): success, no result.
                return {"success": True, "warnings": ["No assets found for the given search criteria."]}
            raise ApiError("702", "No data found for given search criteria")  # ASSUMPTION on the code
        if method == "POST":
            form = form or {}
            try:
                costs = json.loads(form["costs"]) if "costs" in form else None
                tags = json.loads(form["tags"]) if "tags" in form else None
            except ValueError:
                raise ApiError("609", "Invalid JSON")
            for cost in costs or []:
                if not isinstance(cost, dict) or not isinstance(cost.get("cost"), int) \
                        or not str(cost.get("startDate", "")).count("-") == 2:
                    raise ApiError("1003", "Invalid cost '%s'" % json.dumps(cost))  # ASSUMPTION
            for tag in tags or []:
                if not isinstance(tag, dict) or not tag.get("tagType") or not tag.get("tagValue"):
                    raise ApiError("1003", "Invalid tag '%s'" % json.dumps(tag))
            if costs is not None:
                # Costs append unless costsDestructiveUpdate is true (notes).
                if form.get("costsDestructiveUpdate") == "true":
                    program["costs"] = []
                program["costs"].extend({k: c.get(k) for k in ("startDate", "cost", "note") if k in c}
                                        for c in costs)
            for tag in tags or []:
                # ASSUMPTION: a program holds one value per tag type.
                program["tags"] = [t for t in program["tags"] if t["tagType"] != tag["tagType"]]
                program["tags"].append({"tagType": tag["tagType"], "tagValue": tag["tagValue"]})
        return ok([json.loads(json.dumps(program))])


def page_of(records, params, more_result=True):
    """One page of a listing, with batchSize and nextPageToken.  Call with
    STATE.lock held.  more_result=False follows the docs' samples for the
    list and program lead listings: a nextPageToken while pages remain and
    no moreResult member at all."""
    batch = int(params.get("batchSize", MAX_BATCH))
    if batch < 1 or batch > MAX_BATCH:
        raise ApiError("1003", "batchSize must be between 1 and 300")
    offset = 0
    if params.get("nextPageToken"):
        if params["nextPageToken"] not in STATE.list_pages:
            raise ApiError("1003", "Invalid nextPageToken")
        offset = STATE.list_pages.pop(params["nextPageToken"])
    size = min(batch, STATE.config["page_size"])
    if offset + size < len(records):
        tok = page_token()
        STATE.list_pages[tok] = offset + size
        if not more_result:
            return ok(records[offset:offset + size], nextPageToken=tok)
        return ok(records[offset:offset + size], moreResult=True, nextPageToken=tok)
    if not more_result:
        return ok(records[offset:offset + size])
    return ok(records[offset:offset + size], moreResult=False)


MEMBERSHIP_KINDS = ("listMembership", "programMembership", "smartCampaignMembership")


def memberships(method, path, params):
    """GET /rest/v1/leads/{id}/{kind}.json, paged; None for other paths."""
    parts = path.split("/")
    if method != "GET" or len(parts) != 6 or parts[:4] != ["", "rest", "v1", "leads"] \
            or parts[5][:-len(".json")] not in MEMBERSHIP_KINDS or not parts[5].endswith(".json"):
        return None
    try:
        lead_id = int(parts[4])
    except ValueError:
        raise ApiError("1003", "Invalid lead id '%s'" % parts[4])
    with STATE.lock:
        # ASSUMPTION: a lead with no memberships, or none at all, is an empty result.
        return page_of(STATE.memberships.get(lead_id, {}).get(parts[5][:-len(".json")], []), params)


def lead_action(method, path, params, body):
    """Merge, associate, push and submit form; None for other paths."""
    parts = path.split("/")
    if method != "POST" or len(parts) < 4 or parts[:4] != ["", "rest", "v1", "leads"]:
        return None
    if len(parts) == 6 and parts[5] in ("merge.json", "associate.json"):
        try:
            lead_id = int(parts[4])
        except ValueError:
            raise ApiError("1003", "Invalid lead id '%s'" % parts[4])
        with STATE.lock:
            if lead_id not in STATE.leads:
                raise ApiError("1004", "Lead not found")
            if parts[5] == "associate.json":
                if not params.get("cookie"):
                    raise ApiError("701", "cookie cannot be blank")
                STATE.leads[lead_id]["cookies"] = params["cookie"]
                return {"success": True}
            losers = params.get("leadIds") or params.get("leadId")
            if not losers:
                raise ApiError("701", "leadId cannot be blank")
            for loser in losers.split(","):
                if int(loser) not in STATE.leads:
                    raise ApiError("1004", "Lead '%s' not found" % loser)
            for loser in losers.split(","):
                winner = STATE.leads[lead_id]
                # The winner's values win; empty ones are filled from the loser.
                for k, v in STATE.leads.pop(int(loser)).items():
                    if winner.get(k) is None:
                        winner[k] = v
            return {"success": True}
    if path == "/rest/v1/leads/push.json":
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        if not body.get("programName"):
            raise ApiError("701", "programName cannot be blank")
        # Push is always an upsert; it takes lookupField but no action.
        return ok(sync_leads({"action": "createOrUpdate",
                              "lookupField": body.get("lookupField", "email"),
                              "input": body.get("input")}))
    if path == "/rest/v1/leads/submitForm.json":
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        if not body.get("formId"):
            raise ApiError("701", "formId cannot be blank")
        records = body.get("input") or []
        if len(records) != 1:
            # ASSUMPTION: the docs pass a single record in input.
            raise ApiError("1003", "input must hold one record")
        fields = records[0].get("leadFormFields") or {}
        if not fields.get("email"):
            return ok([{"status": "skipped",
                        "reasons": [{"code": "1003", "message": "email is required"}]}])
        return ok(sync_leads({"action": "createOrUpdate", "lookupField": "email",
                              "input": [fields]}))
    return None


def describe():
    result = []
    for n, (name, display, dtype, length, ro, _) in enumerate(LEAD_FIELDS, 1):
        entry = {"id": n, "displayName": display, "dataType": dtype}
        if length:
            entry["length"] = length
        entry["rest"] = {"name": name, "readOnly": ro}
        entry["soap"] = {"name": name[0].upper() + name[1:], "readOnly": ro}
        result.append(entry)
    result.append({"id": len(result) + 1, "displayName": SOAP_ONLY[1], "dataType": SOAP_ONLY[2],
                   "length": SOAP_ONLY[3], "soap": {"name": SOAP_ONLY[0], "readOnly": False}})
    return ok(result)


def describe2():
    fields = []
    for name, display, dtype, length, ro, _ in LEAD_FIELDS:
        f = {"name": name, "displayName": display, "dataType": dtype}
        if length:
            f["length"] = length
        f.update({"updateable": not ro, "crmManaged": False})
        fields.append(f)
    searchable = [[f[0]] for f in LEAD_FIELDS if f[5]]
    return ok([{"name": "API Lead", "searchableFields": searchable, "fields": fields}])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MarketoEmulator/1.0"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm
        # the body would wait for the client's delayed ACK (about 40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- plumbing -------------------------------------------------------
    def send_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_raw(status, data, "application/json;charset=UTF-8")

    def send_raw(self, status, data, ctype, location=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        raw_body = self.read_body()
        parts = urlsplit(self.path)
        if parts.path.startswith("/_emulator/"):
            return self.control(method, parts.path, raw_body)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        entry = {"seq": 0, "time": time.time(), "method": method, "path": parts.path,
                 "query": query, "form": None, "body": None,
                 "auth": "bearer" if (self.headers.get("Authorization") or "").startswith("Bearer ") else "none",
                 "token_in_query": "access_token" in query, "http_status": 200,
                 "error_code": None, "url_length": len(self.path),
                 "tls": isinstance(self.connection, ssl.SSLSocket)}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw_body:
            if ctype == "application/x-www-form-urlencoded":
                entry["form"] = dict(parse_qsl(raw_body.decode("utf-8", "replace"), keep_blank_values=True))
            else:
                try:
                    entry["body"] = json.loads(raw_body)
                except ValueError:
                    entry["body"] = raw_body.decode("utf-8", "replace")
        if parts.path.startswith("/identity/") and "client_secret" in query:
            entry["query"] = dict(query, client_secret="***")
        with STATE.lock:
            STATE.seq += 1
            entry["seq"] = STATE.seq
            STATE.calls.append(entry)
            fault = emu_bulk.take_fault(STATE, method, parts.path) or STATE.take_fault(method, parts.path)
            if fault:
                entry["fault"] = fault["kind"]
        try:
            self.dispatch(method, parts.path, query, ctype, raw_body, entry, fault)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def respond(self, entry, obj, status=200):
        # Fixed, so that test output does not depend on how many calls came before.
        obj["requestId"] = "e1f0#emulator"
        entry["http_status"] = status
        if isinstance(obj, dict) and obj.get("success") is False:
            entry["error_code"] = obj["errors"][0]["code"]
        self.send_json(obj, status)

    # --- the API ----------------------------------------------------------
    def dispatch(self, method, path, query, ctype, raw_body, entry, fault):
        if fault and fault["kind"] == "close":
            entry["http_status"] = 0
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault and fault["kind"] == "hang":
            deadline = time.time() + float(fault.get("seconds", 30))
            while time.time() < deadline:
                time.sleep(0.1)
            fault = None
        if fault and fault["kind"] == "http":
            status = int(fault.get("status", 500))
            entry["http_status"] = status
            self.send_raw(status, b"<html><body>Error %d</body></html>" % status, "text/html",
                          fault.get("location"))
            return
        if fault and fault["kind"] == "raw":
            # A body exactly as given; code points below 256 become those
            # bytes, so "\u00ff" in the fault sends an invalid UTF-8 byte.
            entry["http_status"] = 200
            self.send_raw(200, fault["body"].encode("latin-1"), "application/json")
            return
        if fault and fault["kind"] == "malformed":
            entry["http_status"] = 200
            self.send_raw(200, b'{"requestId":"1#2","success":true,"result":[{"id":1,', "application/json")
            return

        if path == "/identity/oauth/token":
            return self.identity(query, entry)

        if len(self.path) > MAX_URL:
            entry["http_status"] = 414
            self.send_raw(414, b"<html><body>414 Request-URI Too Large</body></html>", "text/html")
            return
        if len(raw_body) > MAX_BODY:
            entry["http_status"] = 413
            self.send_raw(413, b"<html><body>413 Request Entity Too Large</body></html>", "text/html")
            return
        if not path.startswith(("/rest/", "/bulk/")):
            entry["http_status"] = 404
            self.send_raw(404, b"Not Found", "text/plain")
            return

        if fault and fault["kind"] == "error":
            return self.respond(entry, envelope_error(fault.get("code", "611"), fault.get("message", "System error")))

        problem = self.check_access(entry)
        if problem:
            return self.respond(entry, envelope_error(*problem))

        with STATE.lock:
            STATE.in_flight += 1
            too_many = STATE.in_flight > STATE.config["concurrency_limit"]
        try:
            if too_many:
                return self.respond(entry, envelope_error("615", "Concurrent access limit reached"))
            if fault and fault["kind"] == "slow":
                # A slow answer that counts as in flight all along (a
                # "hang" is before the concurrency count, like a network stall).
                time.sleep(float(fault.get("seconds", 1)))
            if method == "POST" and query.get("_method") == "GET":
                # A form carries a long query string; a JSON body carries a
                # compound-key query (notes, "Other objects"), which the
                # object's handler reads from the body.
                if ctype not in ("application/x-www-form-urlencoded", "application/json"):
                    return self.respond(entry, envelope_error("612", "Invalid Content Type"))
                params = dict(query)
                params.pop("_method")
                params.update(entry["form"] or {})
                method = "GET"
            else:
                params = query
            body = self.rest(method, path, params, ctype, raw_body, entry, fault)
            if isinstance(body, emu_bulk.FileReply):
                return emu_bulk.send_file(self, entry, body)
            if fault and fault["kind"] == "wrong_type" and body.get("success"):
                for rec in body.get("result", []):
                    rec[fault["field"]] = fault.get("value")
            if fault and fault["kind"] == "record_skip" and body.get("success"):
                i = int(fault.get("index", 0))
                if i < len(body.get("result", [])):
                    old = body["result"][i]
                    body["result"][i] = {k: v for k, v in old.items() if k in ("id", "seq")}
                    body["result"][i].update({"status": "skipped", "reasons": [
                        {"code": str(fault.get("code", "1004")), "message": fault.get("message", "Lead not found")}]})
            if fault and fault["kind"] == "close_after":
                # The call is applied, then the connection drops before any
                # answer: a lost response, as a network or proxy can cause.
                entry["http_status"] = 0
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.respond(entry, body)
        finally:
            with STATE.lock:
                STATE.in_flight -= 1

    def identity(self, query, entry):
        st = STATE
        params = dict(query)
        if entry["form"]:
            params.update(entry["form"])
            entry["form"] = dict(entry["form"], client_secret="***") if "client_secret" in entry["form"] else entry["form"]
        if params.get("grant_type") != "client_credentials":
            entry["http_status"] = 400
            return self.send_json({"error": "invalid_request", "error_description": "grant_type must be client_credentials"}, 400)
        if params.get("client_id") != st.config["client_id"] or params.get("client_secret") != st.config["client_secret"]:
            entry["http_status"] = 401
            return self.send_json({"error": "unauthorized", "error_description": "Bad client credentials"}, 401)
        with st.lock:
            now = time.time()
            tok = st.current_token
            if tok is None or st.tokens.get(tok, 0) <= now:
                tok = "%s:ab" % secrets.token_hex(16)
                st.tokens[tok] = now + st.config["token_ttl"]
                st.current_token = tok
            left = max(0, int(st.tokens[tok] - now))
        self.send_json({"access_token": tok, "token_type": "bearer", "expires_in": left, "scope": "apis@emulator"})

    def check_access(self, entry):
        """Token, rate, quota.  Returns (code, message) or None."""
        st = STATE
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            # ASSUMPTION: 600 when no token is given (access_token in the query no longer counts).
            return ("600", "Access token not specified")
        tok = auth[len("Bearer "):].strip()
        now = time.time()
        with st.lock:
            if tok not in st.tokens:
                return ("601", "Access token invalid")
            if st.tokens[tok] <= now:
                return ("602", "Access token expired")
            window = st.config["rate_window"]
            st.recent = [t for t in st.recent if t > now - window]
            if len(st.recent) >= st.config["rate_limit"]:
                return ("606", "Max rate limit '%d' exceeded with in '%g' secs" % (st.config["rate_limit"], window))
            if st.daily >= st.config["daily_quota"]:
                return ("607", "Daily quota reached")
            st.recent.append(now)
            st.daily += 1
        return None

    def rest(self, method, path, params, ctype, raw_body, entry, fault=None):
        try:
            activity = emu_activities.route(STATE, method, path, params, entry["body"], fault)
            if activity is not None:
                return activity
            bulk = emu_bulk.route(STATE, method, path, params, entry["body"], fault)
            if bulk is not None:
                return bulk
            if path == "/rest/v1/leads/describe.json" and method == "GET":
                return describe()
            if path == "/rest/v1/stats/usage.json" and method == "GET":
                # The notes, "Limits": today's calls per API user.
                # ASSUMPTION: the shape {date, total, users: [{userId, count}]}.
                with STATE.lock:
                    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
                    return ok([{"date": day, "total": STATE.daily,
                                "users": [{"userId": STATE.config["client_id"] + "@emulator",
                                           "count": STATE.daily}]}])
            if path == "/rest/v1/leads/describe2.json" and method == "GET":
                return describe2()
            if path == "/rest/v1/leads.json" and method == "GET":
                return query_leads(params)
            if path.startswith("/rest/v1/lead/") and path.endswith(".json") and method == "GET":
                return lead_by_id(path[len("/rest/v1/lead/"):-len(".json")], params)
            if path in ("/rest/v1/leads.json", "/rest/v1/leads/delete.json") and method == "POST":
                if ctype != "application/json":
                    raise ApiError("612", "Invalid Content Type")
                if not isinstance(entry["body"], dict):
                    raise ApiError("609", "Invalid JSON")
                if path.endswith("delete.json"):
                    return ok(delete_leads(entry["body"]))
                return ok(sync_leads(entry["body"]))
            members = list_members(method, path, params, entry["body"])
            if members is not None:
                return members
            catalog = emu_catalog.route(STATE, method, path, params)
            if catalog is not None:
                return catalog
            program = asset_programs(method, path, params) or asset_program(method, path, entry["form"])
            if program is not None:
                return program
            member = memberships(method, path, params)
            if member is not None:
                return member
            fields = schema_fields(method, path, params, entry["body"])
            if fields is not None:
                return fields
            action = lead_action(method, path, params, entry["body"])
            if action is not None:
                return action
            other = emu_program_members.route(STATE, method, path, params, entry["body"])
            if other is not None:
                return other
            other = emu_objects.route(STATE, method, path, params, entry["body"])
            if other is not None:
                return other
            if path.startswith("/rest/v1/") and method not in ("GET", "POST"):
                raise ApiError("605", "Request method '%s' not supported" % method)
            raise ApiError("610", "Requested resource not found")
        except ApiError as e:
            return envelope_error(e.code, e.message)

    # --- control ------------------------------------------------------------
    def control(self, method, path, raw_body):
        st = STATE
        try:
            arg = json.loads(raw_body) if raw_body else None
        except ValueError:
            return self.send_json({"error": "invalid JSON"}, 400)
        with st.lock:
            if path == "/_emulator/calls" and method == "GET":
                return self.send_json(st.calls)
            if path == "/_emulator/calls/clear":
                st.calls = []
                return self.send_json({"ok": True})
            if path == "/_emulator/config":
                if method == "POST":
                    st.config.update(arg or {})
                return self.send_json(st.config)
            if path == "/_emulator/tokens":
                return self.send_json(sorted(st.tokens))
            if path == "/_emulator/expire_tokens":
                for tok in st.tokens:
                    st.tokens[tok] = 0
                return self.send_json({"ok": True})
            if path == "/_emulator/leads":
                if method == "POST":
                    for rec in (arg or {}).get("input", []):
                        lead = dict(rec)
                        if lead.get("id") is None:
                            lead["id"] = st.leads.next_id()
                        lead["createdAt"] = lead.get("createdAt") or now_iso()
                        lead["updatedAt"] = lead.get("updatedAt") or lead["createdAt"]
                        st.leads[lead["id"]] = lead
                # every field, null where the sparse lead has none
                return self.send_json([dict({name: None for name in FIELD}, **lead)
                                       for lead in sorted(st.leads.values(), key=lambda l: l["id"])])
            if path.startswith("/_emulator/objects/"):
                name = path[len("/_emulator/objects/"):]
                if method == "POST":
                    emu_objects.add_records(st, name, (arg or {}).get("input", []))
                return self.send_json(emu_objects.dump(st, name))
            if path == "/_emulator/programs":
                if method == "POST":
                    emu_catalog.add_programs(st, arg or {})
                return self.send_json(emu_catalog.dump_programs(st))
            if path == "/_emulator/members":
                if method == "POST":
                    emu_program_members.add(st, arg or {})
                return self.send_json(emu_program_members.dump(st))
            activity = emu_activities.control(st, method, path, arg)
            if activity is not None:
                return self.send_json(activity)
            bulk = emu_bulk.control(st, method, path, arg)
            if bulk is not None:
                return self.send_json(bulk)
            if path == "/_emulator/crm_managed":
                emu_objects.set_crm_managed(st, arg["object"], bool(arg["flag"]))
                return self.send_json({"ok": True})
            if path == "/_emulator/faults":
                if method == "POST":
                    f = dict(arg)
                    f.setdefault("count", 1)
                    st.faults.append(f)
                elif method == "DELETE":
                    st.faults = []
                return self.send_json(st.faults)
        if path == "/_emulator/reset" and method == "POST":
            with st.lock:
                st.reset()
            return self.send_json({"ok": True})
        return self.send_json({"error": "unknown control path"}, 404)


class TLSServer(ThreadingHTTPServer):
    """The same API over https.  The handshake happens in the request's own
    thread, so a client that stalls it does not block other connections."""

    def __init__(self, address, handler, context):
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return              # e.g. a client that refused our certificate
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request, client_address):
        pass


def main():
    global STATE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    # 0: a free port, chosen by the kernel and printed below
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed-count", type=int, default=0)
    # A certificate and its key (PEM): also serve https on a second free port.
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    STATE = State(args.seed_count)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    # socketserver's default backlog (5) drops the connects of a client that
    # opens 10 at once (Marketo's concurrency limit), which then retry 1 s later.
    ThreadingHTTPServer.request_queue_size = 64
    servers = [ThreadingHTTPServer((args.host, args.port), Handler)]
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        servers.append(TLSServer((args.host, 0), Handler, context))

    def stop(*_):
        for s in servers:
            threading.Thread(target=s.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    if len(servers) > 1:
        threading.Thread(target=servers[1].serve_forever, daemon=True).start()
        print("marketo emulator listening with TLS on %s:%d" % (args.host, servers[1].server_address[1]),
              flush=True)
    print("marketo emulator listening on %s:%d" % (args.host, servers[0].server_address[1]), flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()

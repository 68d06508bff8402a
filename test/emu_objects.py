"""Opportunities, named accounts and companies for the Marketo emulator.

These follow Marketo's standard lead-database pattern (seeds 002 and 003,
and the notes on companies): describe with idField, dedupeFields and
searchableFields; query by filterType/filterValues; sync with action and
dedupeBy; delete with deleteBy.  One table of definitions drives one set of
handlers.  Where the docs are silent, the choice is marked ASSUMPTION.
"""
from datetime import datetime, timezone

MAX_BATCH = 300


def F(name, display, dtype, length=None, updateable=True):
    f = {"name": name, "displayName": display, "dataType": dtype}
    if length:
        f["length"] = length
    f["updateable"] = updateable
    return f


STAMPS = [F("createdAt", "Created At", "datetime", updateable=False),
          F("updatedAt", "Updated At", "datetime", updateable=False)]

OBJECTS = {
    "opportunities": {
        "path": "/rest/v1/opportunities", "name": "opportunity", "displayName": "Opportunity",
        "label": "Opportunity", "idField": "marketoGUID", "guid": True,
        "dedupeFields": ["externalOpportunityId"],
        "searchable": [["externalOpportunityId"], ["marketoGUID"], ["region"]],
        # The seed: "name" must not be null.
        "required": ["name"],
        "fields": [F("marketoGUID", "Marketo GUID", "string", 36, False)] + STAMPS + [
            F("externalOpportunityId", "External Opportunity Id", "string", 50, False),
            F("name", "Name", "string", 255), F("description", "Description", "string", 2000),
            F("type", "Type", "string", 255), F("stage", "Stage", "string", 255),
            F("amount", "Amount", "currency"), F("closeDate", "Close Date", "date"),
            F("isClosed", "Closed", "boolean"), F("isWon", "Won", "boolean"),
            F("fiscalYear", "Fiscal Year", "integer"), F("probability", "Probability", "integer"),
            F("source", "Source", "string", 255), F("region", "Region", "string", 255)],
    },
    # The notes: idField marketoGUID, compound dedupe key.
    "opportunityroles": {
        "path": "/rest/v1/opportunities/roles", "name": "opportunityRole", "displayName": "Opportunity Role",
        "label": "Opportunity role", "idField": "marketoGUID", "guid": True,
        "dedupeFields": ["externalOpportunityId", "leadId", "role"],
        "searchable": [["marketoGUID"], ["leadId"], ["externalOpportunityId"]],
        "required": [],
        "fields": [F("marketoGUID", "Marketo GUID", "string", 36, False)] + STAMPS + [
            F("externalOpportunityId", "External Opportunity Id", "string", 50, False),
            F("leadId", "Lead Id", "integer", updateable=False),
            F("role", "Role", "string", 255, False), F("isPrimary", "Is Primary", "boolean")],
    },
    "namedaccounts": {
        "path": "/rest/v1/namedaccounts", "name": "namedAccount", "displayName": "Named Account",
        "label": "Named account", "idField": "marketoGUID", "guid": True,
        "dedupeFields": ["name"],
        "searchable": [["marketoGUID"], ["name"], ["tier"]],
        "required": [],
        "fields": [F("marketoGUID", "Marketo GUID", "string", 36, False)] + STAMPS + [
            F("name", "Name", "string", 255), F("annualRevenue", "Annual Revenue", "currency"),
            F("city", "City", "string", 255), F("country", "Country", "string", 255),
            F("domainName", "Domain Name", "string", 255), F("industry", "Industry", "string", 255),
            F("numberOfEmployees", "Number of Employees", "integer"), F("tier", "Tier", "integer")],
    },
    "companies": {
        "path": "/rest/v1/companies", "name": "company", "displayName": "Company",
        "label": "Company", "idField": "id", "guid": False,
        "dedupeFields": ["externalCompanyId"],
        "searchable": [["id"], ["externalCompanyId"], ["company"]],
        "required": [],
        "fields": [F("id", "Id", "integer", updateable=False)] + STAMPS + [
            F("externalCompanyId", "External Company Id", "string", 100, False),
            F("company", "Company Name", "string", 255), F("industry", "Industry", "string", 255),
            F("annualRevenue", "Annual Revenue", "currency"),
            F("numberOfEmployees", "Number of Employees", "integer"),
            F("website", "Website", "url", 255), F("billingCountry", "Billing Country", "string", 255)],
    },
    # Adobe's sales-persons.md.  ASSUMPTION: its describe example shows email
    # as not updateable, yet its sync example writes email, firstName and
    # lastName; those are taken as ordinary updateable fields.
    "salespersons": {
        "path": "/rest/v1/salespersons", "name": "SalesPerson", "displayName": "Sales Person",
        "label": "Sales person", "idField": "id", "guid": False,
        "dedupeFields": ["externalSalesPersonId"],
        "searchable": [["email"], ["id"], ["externalSalesPersonId"]],
        "required": [],
        "fields": [F("id", "Marketo Id", "integer", updateable=False)] + STAMPS + [
            F("email", "Email", "string", 255),
            F("externalSalesPersonId", "External Sales Person Id", "string", 255, False),
            F("firstName", "First Name", "string", 255), F("lastName", "Last Name", "string", 255),
            F("phone", "Phone", "string", 255)],
    },
}

SEEDS = {
    # ASSUMPTION: opportunity amounts are kept and returned as strings, as
    # the seed's examples show ("1604.47").
    "opportunities": [
        {"marketoGUID": "dff23271-f996-47d7-984f-f2676861b5fa", "externalOpportunityId": "19UYA31581L000000",
         "name": "Chairs", "description": "Chairs", "amount": "1604.47", "source": "Inbound Sales Call/Email",
         "stage": "Prospecting", "region": "EMEA"},
        {"marketoGUID": "dff23271-f996-47d7-984f-f2676861b5fc", "externalOpportunityId": "29UYA31581L000000",
         "name": "Big Dog Day Care-Phase12", "description": "Big Dog Day Care-Phase12", "amount": "1604.47",
         "source": "Email", "stage": "Prospecting", "region": "AMER"},
        {"marketoGUID": "dff23271-f996-47d7-984f-f2676861b5fd", "externalOpportunityId": "49UYA31581L000000",
         "name": "Tables", "amount": "99.00", "isClosed": True, "isWon": False, "closeDate": "2024-03-31"},
    ],
    "opportunityroles": [
        {"marketoGUID": "8a1c2f8e-0d7b-4c1e-9f5a-000000000001", "externalOpportunityId": "19UYA31581L000000",
         "leadId": 1001, "role": "Decision Maker", "isPrimary": True},
        {"marketoGUID": "8a1c2f8e-0d7b-4c1e-9f5a-000000000002", "externalOpportunityId": "19UYA31581L000000",
         "leadId": 1002, "role": "Influencer", "isPrimary": False},
    ],
    "namedaccounts": [
        {"marketoGUID": "3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f001", "name": "Google", "city": "Mountain View",
         "country": "US", "annualRevenue": 2.8e11, "tier": 1},
        {"marketoGUID": "3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f002", "name": "Yahoo", "city": "Sunnyvale",
         "country": "US", "tier": 2},
        {"marketoGUID": "3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f003", "name": "Acme, Inc.", "city": "Phoenix", "tier": 3},
    ],
    "companies": [
        {"id": 5001, "externalCompanyId": "C-100", "company": "Initrode", "numberOfEmployees": 120},
        {"id": 5002, "externalCompanyId": "C-200", "company": "Globex", "industry": "Energy"},
        {"id": 5003, "externalCompanyId": "C-300", "company": "Umbrella", "billingCountry": "US"},
    ],
    "salespersons": [
        {"id": 53453, "externalSalesPersonId": "sam@test.com", "email": "sam@test.com",
         "firstName": "Sam", "lastName": "Sanosin", "createdAt": "2015-02-03T22:36:23Z"},
        {"id": 53454, "externalSalesPersonId": "david@test.com", "email": "david@test.com",
         "firstName": "David", "lastName": "Aulassak", "createdAt": "2015-02-03T22:36:23Z"},
    ],
}


def _api():
    import marketo_emulator
    return marketo_emulator


def batch_size(params):
    """batchSize, 1 to 300, 300 when not given (the REST paging rules);
    every paged endpoint of the emulator reads it through here."""
    api = _api()
    try:
        batch = int(params.get("batchSize", MAX_BATCH))
    except ValueError:
        raise api.ApiError("1003", "Invalid batchSize")
    if batch < 1 or batch > MAX_BATCH:
        raise api.ApiError("1003", "batchSize must be between 1 and 300")
    return batch


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def definition(state, name):
    """A built-in object's definition, or a custom object type's
    (emu_custom_objects keeps those in state.custom_types)."""
    return OBJECTS.get(name) or getattr(state, "custom_types", {})[name]


def field_map(obj):
    return {f["name"]: f for f in obj["fields"]}


def reset(state):
    state.objects = {}
    state.obj_pages = {}
    state.crm_managed = set()
    state.guid_counter = 0
    state.id_high = {}        # integer-id objects: the highest id ever used
    for name in OBJECTS:
        state.objects[name] = {}
        add_records(state, name, SEEDS[name])


def new_id(state, name):
    obj = definition(state, name)
    if obj["guid"]:
        # Counted rather than random, so that test output is repeatable.
        state.guid_counter += 1
        return "a0000000-0000-4000-8000-%012x" % state.guid_counter
    # ASSUMPTION: like lead ids, integer ids are never reused, even after
    # the record holding the highest one is deleted.
    n = max([state.id_high.get(name, 5000)] + list(state.objects[name])) + 1
    state.id_high[name] = n
    return n


def add_records(state, name, records):
    obj = definition(state, name)
    store = state.objects[name]
    for rec in records:
        full = {f: None for f in field_map(obj)}
        full.update(rec)
        if full.get(obj["idField"]) is None:
            full[obj["idField"]] = new_id(state, name)
        full["createdAt"] = full.get("createdAt") or "2024-05-17T22:11:45Z"
        full["updatedAt"] = full.get("updatedAt") or full["createdAt"]
        store[full[obj["idField"]]] = full
        if not obj["guid"]:
            state.id_high[name] = max(state.id_high.get(name, 5000), full[obj["idField"]])


def dump(state, name):
    return list(state.objects[name].values())


def set_crm_managed(state, name, flag):
    (state.crm_managed.add if flag else state.crm_managed.discard)(name)


def norm(obj, field, value):
    """ASSUMPTION: as for leads, strings match case-insensitively and
    trimmed, integers numerically."""
    if value is None:
        return None
    if field_map(obj)[field]["dataType"] in ("integer",):
        try:
            return int(str(value).strip())
        except ValueError:
            raise _api().ApiError("1003", "Invalid value '%s' for field '%s'" % (value, field))
    return str(value).strip().lower()


def describe(name):
    obj = OBJECTS[name]
    return _api().ok([{
        "name": obj["name"], "displayName": obj["displayName"],
        "createdAt": "2015-02-03T22:36:23Z", "updatedAt": "2015-02-03T22:36:24Z",
        "idField": obj["idField"], "dedupeFields": obj["dedupeFields"],
        "searchableFields": obj["searchable"], "fields": obj["fields"]}])


def compound_query(obj, body):
    """filterType=dedupeFields as POST ?_method=GET with a JSON body (notes,
    "Other objects"): {"filterType": "dedupeFields", "fields": [...],
    "input": [{every dedupe field}, ...], "nextPageToken": ...}.  Returns
    (params as for a plain query, the input records).

    ASSUMPTION: paging repeats the whole body with nextPageToken as a body
    member (the notes: "resend all the original inputs with the token");
    fields and batchSize are body members too."""
    api = _api()
    if body.get("filterType") != "dedupeFields":
        raise api.ApiError("1003", "Invalid filterType '%s' for a JSON query" % body.get("filterType"))
    records = body.get("input")
    if not isinstance(records, list) or not records:
        raise api.ApiError("701", "input cannot be blank")
    if len(records) > MAX_BATCH:
        raise api.ApiError("1003", "Too many records in input, max %d" % MAX_BATCH)
    for rec in records:
        if not isinstance(rec, dict) or any(rec.get(f) is None for f in obj["dedupeFields"]):
            raise api.ApiError("1003", "Each input record needs %s" % ", ".join(obj["dedupeFields"]))
    fields = body.get("fields")
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise api.ApiError("1003", "fields must be an array of field names")
    params = {"filterType": "dedupeFields"}
    if fields:
        params["fields"] = ",".join(fields)
    for member in ("nextPageToken", "batchSize"):
        if body.get(member) is not None:
            params[member] = str(body[member])
    return params, records


def query(state, name, params, body=None):
    api = _api()
    obj = definition(state, name)
    fields_by_name = field_map(obj)
    inputs = None
    if isinstance(body, dict):
        params, inputs = compound_query(obj, body)
    ftype, fvals = params.get("filterType"), params.get("filterValues")
    if not ftype:
        raise api.ApiError("701", "filterType cannot be blank")
    if inputs is None and ftype == "dedupeFields" and len(obj["dedupeFields"]) == 1:
        # Adobe's sales-persons.md queries a one-field key by this name.
        ftype = obj["dedupeFields"][0]
    if inputs is None:
        if not fvals:
            raise api.ApiError("701", "filterValues cannot be blank")
        # one field of a compound key is not a filter unless searchable
        allowed = {f[0] for f in obj["searchable"] if len(f) == 1} | {obj["idField"]} | \
            (set(obj["dedupeFields"]) if len(obj["dedupeFields"]) == 1 else set())
        if ftype not in allowed:
            raise api.ApiError("1003", "Invalid filterType '%s'" % ftype)
        values = fvals.split(",")
        if len(values) > MAX_BATCH:
            raise api.ApiError("1003", "Too many values in filterValues, max %d" % MAX_BATCH)
    # ASSUMPTION: without fields=, the id, dedupe fields and timestamps come back.
    fields = params["fields"].split(",") if params.get("fields") else \
        [obj["idField"]] + obj["dedupeFields"] + ["createdAt", "updatedAt"]
    for f in fields:
        if f not in fields_by_name:
            raise api.ApiError("1006", "Field '%s' not found" % f)
    batch = batch_size(params)
    with state.lock:
        store = state.objects[name]
        if inputs is not None:
            keys = sorted({k for rec in inputs for k in find(state, name, obj["dedupeFields"], rec)}, key=str)
        else:
            wanted = {norm(obj, ftype, v) for v in values}
            keys = sorted((k for k, r in store.items() if norm(obj, ftype, r.get(ftype)) in wanted), key=str)
        offset = 0
        token = params.get("nextPageToken")
        if token:
            if token not in state.obj_pages:
                raise api.ApiError("1003", "Invalid nextPageToken")
            offset = state.obj_pages.pop(token)
        size = min(batch, state.config["page_size"])
        records = []
        for seq, k in enumerate(keys[offset:offset + size]):
            r = store[k]
            rec = {"seq": seq, obj["idField"]: r[obj["idField"]]}
            rec.update({f: r[f] for f in fields if r.get(f) is not None})
            records.append(rec)
        if offset + size < len(keys):
            tok = api.page_token()
            state.obj_pages[tok] = offset + size
            return api.ok(records, moreResult=True, nextPageToken=tok)
        return api.ok(records, moreResult=False)


def skipped(seq, code, message):
    return {"seq": seq, "status": "skipped", "reasons": [{"code": code, "message": message}]}


def find(state, name, key_fields, rec):
    """Keys of the records matching rec on every key field (a compound
    dedupe key has several)."""
    obj = definition(state, name)
    if any(rec.get(f) is None for f in key_fields):
        return []
    return [k for k, r in state.objects[name].items()
            if all(norm(obj, f, r.get(f)) == norm(obj, f, rec.get(f)) for f in key_fields)]


def unlinked_lead(state, obj, rec):
    """A custom object record whose link field names no lead: Adobe's sync
    example skips such a record with 1004 "Lead not found"."""
    leads = getattr(state, "leads", None)
    for rel in obj.get("relationships", []):
        target = rel.get("relatedTo", {})
        value = rec.get(rel["field"])
        if leads is not None and target.get("name") == "Lead" and target.get("field") == "id" \
                and value is not None:
            try:
                if int(value) not in leads:
                    return True
            except (TypeError, ValueError):
                return True
    return False


def crm_check(state, name):
    if name in state.crm_managed:
        # ASSUMPTION: the docs say these APIs are disabled when a native CRM
        # sync is on, without naming the code; 603 "Access denied" is used.
        raise _api().ApiError("603", "Access denied: %s API is read-only when CRM sync is enabled"
                              % definition(state, name)["label"])


def batch_input(obj, body, by_param):
    """The input records, the key field they are matched by, and the by-value."""
    api = _api()
    by = body.get(by_param, "dedupeFields")
    if by not in ("dedupeFields", "idField"):
        raise api.ApiError("1003", "Invalid %s '%s'" % (by_param, by))
    records = body.get("input")
    if not records:
        raise api.ApiError("701", "input cannot be blank")
    if len(records) > MAX_BATCH:
        raise api.ApiError("1003", "Too many records in input, max %d" % MAX_BATCH)
    return records, ([obj["idField"]] if by == "idField" else obj["dedupeFields"]), by


def sync(state, name, body):
    api = _api()
    obj = definition(state, name)
    fields_by_name = field_map(obj)
    crm_check(state, name)
    action = body.get("action", "createOrUpdate")
    if action not in ("createOnly", "updateOnly", "createOrUpdate"):
        raise api.ApiError("1003", "Invalid action '%s'" % action)
    # "idField is only valid for the updateOnly action" (custom-objects.md);
    # sales-persons.md sends dedupeFields with createOrUpdate.
    if body.get("dedupeBy") == "idField" and action != "updateOnly":
        raise api.ApiError("1003", "dedupeBy idField is only valid with updateOnly")
    records, key_fields, dedupe_by = batch_input(obj, body, "dedupeBy")
    results = []
    with state.lock:
        store = state.objects[name]
        for seq, rec in enumerate(records):
            unknown = [k for k in rec if k not in fields_by_name]
            if unknown:
                results.append(skipped(seq, "1006", "Field '%s' not found" % unknown[0]))
                continue
            missing_key = [f for f in key_fields if rec.get(f) is None]
            if missing_key:
                results.append(skipped(seq, "1003", "Value for %s field '%s' not found"
                                       % ("id" if dedupe_by == "idField" else "dedupe", missing_key[0])))
                continue
            if unlinked_lead(state, obj, rec):
                results.append(skipped(seq, "1004", "Lead not found"))
                continue
            found = find(state, name, key_fields, rec)
            if found and action == "createOnly":
                results.append(skipped(seq, "1005", "%s already exists" % obj["label"]))
            elif not found and action == "updateOnly":
                results.append(skipped(seq, "1013", "%s not found" % obj["label"]))
            elif found:
                r = store[found[0]]
                frozen = [k for k in rec if not fields_by_name[k]["updateable"] and k not in key_fields]
                if frozen:
                    results.append(skipped(seq, "1003", "Field '%s' is not updateable" % frozen[0]))
                    continue
                r.update(rec)
                r["updatedAt"] = now_iso()
                results.append({"seq": seq, "status": "updated", obj["idField"]: r[obj["idField"]]})
            else:
                missing = [f for f in obj["required"] if rec.get(f) is None]
                frozen = [k for k in rec if not fields_by_name[k]["updateable"]
                          and k not in obj["dedupeFields"]]
                if missing:
                    results.append(skipped(seq, "1003", "Value for required field '%s' not found" % missing[0]))
                    continue
                if frozen:
                    results.append(skipped(seq, "1003", "Field '%s' is not updateable" % frozen[0]))
                    continue
                full = {f: None for f in fields_by_name}
                full.update(rec)
                full[obj["idField"]] = new_id(state, name)
                full["createdAt"] = full["updatedAt"] = now_iso()
                store[full[obj["idField"]]] = full
                results.append({"seq": seq, "status": "created", obj["idField"]: full[obj["idField"]]})
    return api.ok(results)


def delete(state, name, body):
    api = _api()
    obj = definition(state, name)
    crm_check(state, name)
    records, key_fields, _ = batch_input(obj, body, "deleteBy")
    results = []
    with state.lock:
        for seq, rec in enumerate(records):
            found = find(state, name, key_fields, rec) if isinstance(rec, dict) else []
            if not found:
                results.append(skipped(seq, "1013", "%s not found" % obj["label"]))
                continue
            r = state.objects[name].pop(found[0])
            results.append({"seq": seq, "status": "deleted", obj["idField"]: r[obj["idField"]]})
    return api.ok(results)


def route(state, method, path, params, body):
    """The response for one of these objects' endpoints, or None."""
    api = _api()
    for name, obj in OBJECTS.items():
        base = obj["path"]
        if not path.startswith(base):
            continue
        rest = path[len(base):]
        if rest == "/describe.json" and method == "GET":
            return describe(name)
        if rest == ".json" and method == "GET":
            return query(state, name, params, body)
        if rest in (".json", "/delete.json") and method == "POST":
            if not isinstance(body, dict):
                raise api.ApiError("609", "Invalid JSON")
            return sync(state, name, body) if rest == ".json" else delete(state, name, body)
    return None


if __name__ == "__main__":
    # Self-test: python3 test/emu_objects.py (imports marketo_emulator for
    # ApiError, ok and page_token; starts no server).
    import os
    import sys
    import threading

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    ApiError = _api().ApiError

    class FakeState:
        def __init__(self):
            self.lock = threading.Lock()
            self.config = {"page_size": 2}
            reset(self)

    def call(st, method, path, params=None, body=None):
        return route(st, method, path, params or {}, body)

    def err(st, method, path, params=None, body=None):
        try:
            call(st, method, path, params, body)
        except ApiError as e:
            return e.code
        raise AssertionError("no error from %s %s" % (method, path))

    def reason(r):
        assert r["status"] == "skipped", r
        return r["reasons"][0]["code"], r["reasons"][0]["message"]

    st = FakeState()
    OPP, NA, CO = "/rest/v1/opportunities", "/rest/v1/namedaccounts", "/rest/v1/companies"
    assert call(st, "GET", "/rest/v1/leads.json") is None
    assert call(st, "GET", OPP + "/nothing.json") is None

    # describe, in seed 002's shape
    d = call(st, "GET", OPP + "/describe.json")
    assert d["success"] and len(d["result"]) == 1
    r = d["result"][0]
    assert list(r) == ["name", "displayName", "createdAt", "updatedAt", "idField",
                       "dedupeFields", "searchableFields", "fields"], list(r)
    assert r["idField"] == "marketoGUID" and r["dedupeFields"] == ["externalOpportunityId"]
    assert ["region"] in r["searchableFields"]
    assert r["fields"][0] == {"name": "marketoGUID", "displayName": "Marketo GUID", "dataType": "string",
                              "length": 36, "updateable": False}
    assert {"name": "createdAt", "displayName": "Created At", "dataType": "datetime",
            "updateable": False} in r["fields"]
    assert call(st, "GET", CO + "/describe.json")["result"][0]["idField"] == "id"
    assert call(st, "GET", NA + "/describe.json")["result"][0]["dedupeFields"] == ["name"]

    # query: seed 002's example, case-insensitive and trimmed
    q = call(st, "GET", OPP + ".json", {"filterType": "externalOpportunityId",
                                        "filterValues": "19uya31581l000000, 29UYA31581L000000",
                                        "fields": "name,amount,source,description"})
    assert q["moreResult"] is False and [x["seq"] for x in q["result"]] == [0, 1]
    assert q["result"][0] == {"seq": 0, "marketoGUID": "dff23271-f996-47d7-984f-f2676861b5fa",
                              "name": "Chairs", "amount": "1604.47", "source": "Inbound Sales Call/Email",
                              "description": "Chairs"}, q["result"][0]
    # default fields; nulls left out
    q = call(st, "GET", NA + ".json", {"filterType": "name", "filterValues": "Google,Yahoo"})
    assert set(q["result"][0]) == {"seq", "marketoGUID", "name", "createdAt", "updatedAt"}
    # paging with page_size 2
    q = call(st, "GET", NA + ".json", {"filterType": "tier", "filterValues": "1,2,3", "fields": "name,tier"})
    assert q["moreResult"] is True and len(q["result"]) == 2 and q["nextPageToken"].endswith("=")
    spent = q["nextPageToken"]
    q2 = call(st, "GET", NA + ".json", {"filterType": "tier", "filterValues": "1,2,3", "fields": "name,tier",
                                        "nextPageToken": q["nextPageToken"]})
    assert q2["moreResult"] is False and len(q2["result"]) == 1 and q2["result"][0]["seq"] == 0
    assert {x["tier"] for x in q["result"] + q2["result"]} == {1, 2, 3}
    q = call(st, "GET", NA + ".json", {"filterType": "tier", "filterValues": "1,2,3", "batchSize": "1"})
    assert len(q["result"]) == 1 and q["moreResult"]
    # a used token is spent; an unknown one is refused
    for tok in (spent, "MFRGGZDF===="):
        assert err(st, "GET", NA + ".json", {"filterType": "tier", "filterValues": "1,2,3",
                                             "nextPageToken": tok}) == "1003"
    # integer filter matches numerically
    q = call(st, "GET", CO + ".json", {"filterType": "id", "filterValues": "5002,05003", "fields": "company"})
    assert [x["company"] for x in q["result"]] == ["Globex", "Umbrella"]
    # query errors
    assert err(st, "GET", OPP + ".json", {"filterType": "name", "filterValues": "Chairs"}) == "1003"
    assert err(st, "GET", OPP + ".json", {"filterType": "region", "filterValues": ",".join(["x"] * 301)}) == "1003"
    assert err(st, "GET", OPP + ".json", {"filterType": "region", "filterValues": "EMEA", "fields": "nope"}) == "1006"
    assert err(st, "GET", OPP + ".json", {"filterType": "region", "filterValues": "EMEA", "batchSize": "x"}) == "1003"
    assert err(st, "GET", OPP + ".json", {"filterValues": "EMEA"}) == "701"
    assert err(st, "GET", CO + ".json", {"filterType": "id", "filterValues": "abc"}) == "1003"

    # sync: createOrUpdate (default) as in seed 002, one update and one create
    s = call(st, "POST", OPP + ".json", body={"input": [
        {"externalOpportunityId": "19UYA31581L000000", "name": "Chairs", "amount": "1700.00"},
        {"externalOpportunityId": "NEW-1", "name": "Desks", "amount": "10.50"}]})
    assert s["result"][0] == {"seq": 0, "status": "updated", "marketoGUID": "dff23271-f996-47d7-984f-f2676861b5fa"}
    assert s["result"][1]["status"] == "created" and len(s["result"][1]["marketoGUID"]) == 36
    new_guid = s["result"][1]["marketoGUID"]
    rec = st.objects["opportunities"][new_guid]
    assert rec["amount"] == "10.50" and rec["createdAt"].endswith("Z")
    assert st.objects["opportunities"]["dff23271-f996-47d7-984f-f2676861b5fa"]["amount"] == "1700.00"
    # every skip reason
    s = call(st, "POST", OPP + ".json", body={"action": "createOnly", "input": [
        {"externalOpportunityId": "19UYA31581L000000", "name": "Chairs"},   # exists
        {"name": "No key"},                                                 # no dedupe field
        {"externalOpportunityId": "NEW-2", "bogus": 1},                     # unknown field
        {"externalOpportunityId": "NEW-3"},                                 # no name
        {"externalOpportunityId": "NEW-4", "name": None},                   # null name
        {"externalOpportunityId": "NEW-5", "name": "Lamps", "marketoGUID": "x"},  # not updateable
        {"externalOpportunityId": "NEW-6", "name": "Lamps"}]})              # created
    codes = [x["status"] == "skipped" and reason(x)[0] for x in s["result"]]
    assert codes == ["1005", "1003", "1006", "1003", "1003", "1003", False], codes
    assert [x["seq"] for x in s["result"]] == list(range(7))
    assert reason(s["result"][1])[1] == "Value for dedupe field 'externalOpportunityId' not found"
    assert reason(s["result"][2])[1] == "Field 'bogus' not found"
    assert reason(s["result"][5])[1] == "Field 'marketoGUID' is not updateable"
    s = call(st, "POST", OPP + ".json", body={"action": "updateOnly", "input": [
        {"externalOpportunityId": "NOPE", "name": "x"},
        {"externalOpportunityId": "NEW-6", "stage": "Won", "createdAt": "2020-01-01T00:00:00Z"},
        {"externalOpportunityId": "NEW-6", "stage": "Won"}]})
    assert reason(s["result"][0])[0] == "1013"
    assert reason(s["result"][1]) == ("1003", "Field 'createdAt' is not updateable")
    assert s["result"][2]["status"] == "updated"
    # updateOnly by idField; the dedupe field is then not updateable
    s = call(st, "POST", NA + ".json", body={"action": "updateOnly", "dedupeBy": "idField", "input": [
        {"marketoGUID": "3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f001", "domainName": "www.google.com"},
        {"marketoGUID": "3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f002", "name": "Renamed"},
        {"marketoGUID": "00000000-0000-0000-0000-000000000000", "city": "x"},
        {"domainName": "no key"}]})
    assert s["result"][0]["status"] == "updated"
    assert st.objects["namedaccounts"]["3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f001"]["domainName"] == "www.google.com"
    assert s["result"][1]["status"] == "updated"    # name is updateable for named accounts
    assert reason(s["result"][2])[0] == "1013"
    assert reason(s["result"][3]) == ("1003", "Value for id field 'marketoGUID' not found")
    # request-level errors
    for body, code in [({"action": "upsert", "input": [{"name": "a"}]}, "1003"),
                       ({"action": "createOnly", "dedupeBy": "idField", "input": [{"name": "a"}]}, "1003"),
                       ({"action": "updateOnly", "dedupeBy": "name", "input": [{"name": "a"}]}, "1003"),
                       ({"input": []}, "701"), ({}, "701"),
                       ({"input": [{"name": "n%d" % i} for i in range(301)]}, "1003")]:
        assert err(st, "POST", NA + ".json", body=body) == code, body
    assert err(st, "POST", NA + ".json", body=[1]) == "609"
    # companies: integer ids, never reused
    s = call(st, "POST", CO + ".json", body={"action": "createOnly", "input": [
        {"externalCompanyId": "ACME-1", "company": "Acme"}]})
    assert s["result"][0] == {"seq": 0, "status": "created", "id": 5004}
    s = call(st, "POST", CO + ".json", body={"action": "updateOnly", "dedupeBy": "idField", "input": [
        {"id": 5004, "numberOfEmployees": 43}, {"id": 5004, "externalCompanyId": "X"}]})
    assert s["result"][0]["status"] == "updated" and st.objects["companies"][5004]["numberOfEmployees"] == 43
    assert reason(s["result"][1]) == ("1003", "Field 'externalCompanyId' is not updateable")

    # delete by dedupe fields (default) and by id field, as in seed 003
    s = call(st, "POST", NA + "/delete.json", body={"input": [{"name": "google"}, {"name": "Marketo"}]})
    assert s["result"][0] == {"seq": 0, "status": "deleted", "marketoGUID": "3c3c9f69-6f8d-4f2b-8a4f-6a51a0f6f001"}
    assert reason(s["result"][1])[0] == "1013"
    s = call(st, "POST", CO + "/delete.json", body={"deleteBy": "idField", "input": [{"id": 5004}, {"id": 9}]})
    assert s["result"][0] == {"seq": 0, "status": "deleted", "id": 5004}
    assert reason(s["result"][1])[0] == "1013"
    s = call(st, "POST", CO + ".json", body={"input": [{"externalCompanyId": "ACME-2"}]})
    assert s["result"][0]["id"] == 5005, s
    assert err(st, "POST", CO + "/delete.json", body={"deleteBy": "nope", "input": [{"id": 1}]}) == "1003"
    assert err(st, "POST", CO + "/delete.json", body={"input": [{"id": i} for i in range(301)]}) == "1003"

    # CRM-managed: sync and delete refused, reads still work
    set_crm_managed(st, "opportunities", True)
    assert err(st, "POST", OPP + ".json", body={"input": [{"externalOpportunityId": "Z", "name": "z"}]}) == "603"
    assert err(st, "POST", OPP + "/delete.json", body={"input": [{"externalOpportunityId": "NEW-6"}]}) == "603"
    assert call(st, "GET", OPP + ".json", {"filterType": "externalOpportunityId", "filterValues": "NEW-6"})["result"]
    assert call(st, "POST", NA + ".json", body={"input": [{"name": "Free"}]})["result"][0]["status"] == "created"
    set_crm_managed(st, "opportunities", False)
    s = call(st, "POST", OPP + "/delete.json", body={"deleteBy": "idField", "input": [{"marketoGUID": new_guid}]})
    assert s["result"][0]["status"] == "deleted"

    # compound-key query: POST ?_method=GET arrives as GET with a JSON body
    RO = "/rest/v1/opportunities/roles"
    s = call(st, "GET", RO + ".json", {}, {"filterType": "dedupeFields", "fields": ["marketoGUID", "role"],
                                           "input": [{"externalOpportunityId": "19uya31581l000000",
                                                      "leadId": 1002, "role": "Influencer"},
                                                     {"externalOpportunityId": "19UYA31581L000000",
                                                      "leadId": 1001, "role": "Nobody"}]})
    assert [r["marketoGUID"] for r in s["result"]] == ["8a1c2f8e-0d7b-4c1e-9f5a-000000000002"], s
    assert err(st, "GET", RO + ".json", {}, {"filterType": "dedupeFields",
                                             "input": [{"externalOpportunityId": "X", "leadId": 1}]}) == "1003"
    assert err(st, "GET", RO + ".json", {}, {"filterType": "leadId", "input": [{"leadId": 1}]}) == "1003"
    assert err(st, "GET", RO + ".json", {}, {"filterType": "dedupeFields", "input": []}) == "701"
    st.config["page_size"] = 1
    both = {"filterType": "dedupeFields", "input": [
        {"externalOpportunityId": "19UYA31581L000000", "leadId": 1001, "role": "Decision Maker"},
        {"externalOpportunityId": "19UYA31581L000000", "leadId": 1002, "role": "Influencer"}]}
    s = call(st, "GET", RO + ".json", {}, dict(both))
    assert s["moreResult"] and len(s["result"]) == 1
    s2 = call(st, "GET", RO + ".json", {}, dict(both, nextPageToken=s["nextPageToken"]))
    assert not s2["moreResult"] and s2["result"][0]["leadId"] == 1002, s2
    st.config["page_size"] = 2

    # control helpers; reset is deterministic
    add_records(st, "companies", [{"id": 7000, "externalCompanyId": "C-7", "company": "Seven"}])
    assert any(r["id"] == 7000 for r in dump(st, "companies"))
    reset(st)
    assert [r["marketoGUID"] for r in dump(st, "opportunities")][:2] == \
        ["dff23271-f996-47d7-984f-f2676861b5fa", "dff23271-f996-47d7-984f-f2676861b5fc"]
    assert [r["name"] for r in dump(st, "namedaccounts")] == ["Google", "Yahoo", "Acme, Inc."]
    assert len(dump(st, "companies")) == 3 and not st.crm_managed
    print("emu_objects self-test: ok")

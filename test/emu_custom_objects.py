"""Custom objects for the Marketo emulator.

The notes' "Custom objects" and Adobe's custom-objects.md: the list of
types (customobjects.json, optionally names=), each type's describe (the
standard one plus relationships), and query, sync and delete, which follow
the standard lead-database pattern and so are emu_objects' handlers, with
the type's definition and records kept under "customobjects/{apiName}".
Where the docs are silent, the choice is marked ASSUMPTION.

Two types are seeded: car_c (dedupe key vin, linked to leads by leadId)
and course_enrollment_c (compound dedupe key courseId, leadId).  The
control path /_emulator/custom_objects replaces the instance's types (an
instance with none: []).
"""
import emu_objects
from emu_objects import F, STAMPS

PREFIX = "/rest/v1/customobjects"
# Adobe: "The maximum number of custom objects types allowed is 10"
MAX_TYPES = 10

LEAD_LINK = [{"field": "leadId", "type": "parent", "relatedTo": {"name": "Lead", "field": "id"}}]
GUID = F("marketoGUID", "Marketo GUID", "string", 36, False)

TYPES = {
    "car_c": {
        "displayName": "Car", "description": "Cars the lead owns",
        "dedupeFields": ["vin"],
        "searchable": [["vin"], ["marketoGUID"], ["leadId"]],
        "relationships": LEAD_LINK,
        "fields": [GUID] + STAMPS + [
            F("vin", "VIN", "string", 36, False), F("leadId", "Lead", "integer"),
            F("make", "Make", "string", 36), F("model", "Model", "string", 255),
            F("year", "Year", "integer"), F("color", "Color", "string", 255),
            F("purchasePrice", "Purchase Price", "currency"), F("purchasedOn", "Purchased On", "date")],
    },
    "course_enrollment_c": {
        "displayName": "Course Enrollment", "description": "A lead's enrollment in a course",
        "dedupeFields": ["courseId", "leadId"],
        # A compound key is one searchable entry of several fields.
        "searchable": [["courseId", "leadId"], ["marketoGUID"], ["leadId"]],
        "relationships": LEAD_LINK,
        "fields": [GUID] + STAMPS + [
            F("courseId", "Course", "string", 20, False), F("leadId", "Lead", "integer", updateable=False),
            F("status", "Status", "string", 50), F("score", "Score", "integer"),
            F("completed", "Completed", "boolean"), F("enrolledAt", "Enrolled At", "datetime")],
    },
}

SEEDS = {
    "car_c": [
        {"marketoGUID": "c0000000-0000-4000-8000-000000000001", "vin": "19UYA31581L000000", "leadId": 1001,
         "make": "BMW", "model": "3-Series 330i", "year": 2003, "color": "Blue", "purchasePrice": "18500.00"},
        {"marketoGUID": "c0000000-0000-4000-8000-000000000002", "vin": "29UYA31581L000000", "leadId": 1001,
         "make": "Ford", "model": "Model T", "year": 1925, "color": "Black"},
        {"marketoGUID": "c0000000-0000-4000-8000-000000000003", "vin": "39UYA31581L000000", "leadId": 1002,
         "make": "Tesla", "model": "Model 3", "year": 2021, "color": "Red", "purchasedOn": "2021-06-30"},
        {"marketoGUID": "c0000000-0000-4000-8000-000000000004", "vin": "49UYA31581L000000", "leadId": 1003,
         "make": "Fiat", "model": "500", "year": 2012},
    ],
    "course_enrollment_c": [
        {"marketoGUID": "e0000000-0000-4000-8000-000000000001", "courseId": "SQL-101", "leadId": 1001,
         "status": "Completed", "score": 92, "completed": True, "enrolledAt": "2024-01-15T09:00:00Z"},
        {"marketoGUID": "e0000000-0000-4000-8000-000000000002", "courseId": "SQL-101", "leadId": 1002,
         "status": "Enrolled", "completed": False, "enrolledAt": "2024-02-01T09:00:00Z"},
        {"marketoGUID": "e0000000-0000-4000-8000-000000000003", "courseId": "PG-201", "leadId": 1001,
         "status": "Enrolled", "score": 40, "completed": False, "enrolledAt": "2024-03-10T09:00:00Z"},
    ],
}


def _api():
    import marketo_emulator
    return marketo_emulator


def key(api_name):
    return "customobjects/" + api_name


def definition_of(api_name, spec):
    """An emu_objects definition of a type, from a TYPES-shaped spec."""
    return {
        "path": PREFIX + "/" + api_name, "name": api_name,
        "displayName": spec.get("displayName", api_name), "description": spec.get("description", ""),
        "label": "Custom object", "idField": "marketoGUID", "guid": True,
        "dedupeFields": spec["dedupeFields"], "searchable": spec["searchable"],
        "relationships": spec.get("relationships", []), "required": [],
        "fields": spec["fields"],
    }


def set_types(state, types):
    """The instance's types, from names of TYPES (seeded) or {"apiName":
    ..., TYPES-shaped spec} definitions (empty); records of types dropped
    go with them."""
    for k in [k for k in state.objects if k.startswith("customobjects/")]:
        del state.objects[k]
    state.custom_types = {}
    for t in types[:MAX_TYPES]:
        api_name = t if isinstance(t, str) else t["apiName"]
        spec = TYPES[t] if isinstance(t, str) else t
        state.custom_types[key(api_name)] = definition_of(api_name, spec)
        state.objects[key(api_name)] = {}
        emu_objects.add_records(state, key(api_name), SEEDS.get(api_name, []) if isinstance(t, str) else [])


def reset(state):
    set_types(state, list(TYPES))


def summary(obj, with_fields):
    out = {"name": obj["name"], "displayName": obj["displayName"], "description": obj["description"],
           "createdAt": "2024-01-02T03:04:05Z", "updatedAt": "2024-01-02T03:04:05Z",
           "idField": obj["idField"], "dedupeFields": obj["dedupeFields"],
           "searchableFields": obj["searchable"], "relationships": obj["relationships"]}
    if with_fields:
        out["fields"] = obj["fields"]
    return out


def list_types(state, params):
    names = params.get("names")
    wanted = set(names.split(",")) if names else None
    return _api().ok([summary(obj, False) for obj in state.custom_types.values()
                      if wanted is None or obj["name"] in wanted])


def route(state, method, path, params, body):
    """The response for a custom object endpoint, or None."""
    api = _api()
    if path == PREFIX + ".json" and method == "GET":
        return list_types(state, params)
    if not path.startswith(PREFIX + "/"):
        return None
    rest = path[len(PREFIX) + 1:]
    api_name, sep, tail = rest.partition("/")
    if not sep:
        if not api_name.endswith(".json"):
            return None
        api_name, tail = api_name[:-len(".json")], ".json"
    else:
        tail = "/" + tail
    name = key(api_name)
    if tail not in (".json", "/describe.json", "/delete.json"):
        return None
    if name not in state.custom_types:
        # ASSUMPTION: an unknown apiName is 1013 "Object not found", the code
        # Adobe's error list gives for objects fetched by name or id.
        raise api.ApiError("1013", "Object not found: custom object '%s'" % api_name)
    if tail == "/describe.json" and method == "GET":
        return api.ok([summary(state.custom_types[name], True)])
    if tail == ".json" and method == "GET":
        return emu_objects.query(state, name, params, body)
    if tail in (".json", "/delete.json") and method == "POST":
        if not isinstance(body, dict):
            raise api.ApiError("609", "Invalid JSON")
        return emu_objects.sync(state, name, body) if tail == ".json" else emu_objects.delete(state, name, body)
    return None


def control(state, method, path, arg):
    """/_emulator/custom_objects: GET lists the types with their record
    counts; POST replaces them (a list as for set_types).  None for other
    paths."""
    if path != "/_emulator/custom_objects":
        return None
    if method == "POST":
        set_types(state, arg or [])
    return [{"name": obj["name"], "records": len(state.objects[k])} for k, obj in state.custom_types.items()]


if __name__ == "__main__":
    # Self-test: python3 test/emu_custom_objects.py (starts no server).
    import os
    import sys
    import threading

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    ApiError = _api().ApiError

    class FakeState:
        def __init__(self):
            self.lock = threading.Lock()
            self.config = {"page_size": 2}
            self.leads = {1001: {}, 1002: {}, 1003: {}}
            emu_objects.reset(self)
            reset(self)

    def call(st, method, path, params=None, body=None):
        return route(st, method, path, params or {}, body)

    def err(st, method, path, params=None, body=None):
        try:
            call(st, method, path, params, body)
        except ApiError as e:
            return e.code
        raise AssertionError("no error from %s %s" % (method, path))

    st = FakeState()
    CAR, CE = PREFIX + "/car_c", PREFIX + "/course_enrollment_c"
    assert call(st, "GET", "/rest/v1/opportunities.json") is None
    lst = call(st, "GET", PREFIX + ".json")
    assert [t["name"] for t in lst["result"]] == ["car_c", "course_enrollment_c"]
    assert "fields" not in lst["result"][0] and lst["result"][0]["relationships"] == LEAD_LINK
    assert [t["name"] for t in call(st, "GET", PREFIX + ".json", {"names": "course_enrollment_c"})["result"]] \
        == ["course_enrollment_c"]
    d = call(st, "GET", CAR + "/describe.json")["result"][0]
    assert d["idField"] == "marketoGUID" and d["dedupeFields"] == ["vin"] and d["fields"][0]["name"] == "marketoGUID"
    assert err(st, "GET", PREFIX + "/boat_c/describe.json") == "1013"

    # query by a filter, paged by 2
    q = call(st, "GET", CAR + ".json", {"filterType": "leadId", "filterValues": "1001,1002", "fields": "vin,make"})
    assert q["moreResult"] and len(q["result"]) == 2
    q2 = call(st, "GET", CAR + ".json", {"filterType": "leadId", "filterValues": "1001,1002", "fields": "vin,make",
                                         "nextPageToken": q["nextPageToken"]})
    assert not q2["moreResult"] and q2["result"][0]["make"] == "Tesla"
    assert err(st, "GET", CAR + ".json", {"filterType": "make", "filterValues": "BMW"}) == "1003"
    assert err(st, "GET", CAR + ".json", {"filterType": "vin", "filterValues": ",".join("v%d" % i for i in range(301))}) \
        == "1003"
    # compound key: only through the JSON body
    q = call(st, "GET", CE + ".json", {}, {"filterType": "dedupeFields", "fields": ["status"],
                                          "input": [{"courseId": "SQL-101", "leadId": 1002},
                                                    {"courseId": "PG-201", "leadId": 1002}]})
    assert [r["status"] for r in q["result"]] == ["Enrolled"], q
    assert err(st, "GET", CE + ".json", {"filterType": "courseId", "filterValues": "SQL-101"}) == "1003"

    # sync: created, updated, skips (exists, not found, no lead)
    s = call(st, "POST", CAR + ".json", {}, {"action": "createOnly", "dedupeBy": "dedupeFields", "input": [
        {"vin": "59UYA31581L000000", "leadId": 1003, "make": "Volvo"},
        {"vin": "19UYA31581L000000", "leadId": 1001},
        {"vin": "69UYA31581L000000", "leadId": 9999}]})
    assert [r["status"] for r in s["result"]] == ["created", "skipped", "skipped"], s
    assert [r["reasons"][0]["code"] for r in s["result"][1:]] == ["1005", "1004"]
    s = call(st, "POST", CAR + ".json", {}, {"action": "updateOnly", "dedupeBy": "idField", "input": [
        {"marketoGUID": "c0000000-0000-4000-8000-000000000004", "color": "White"},
        {"marketoGUID": "c0000000-0000-4000-8000-00000000ffff", "color": "White"}]})
    assert s["result"][0]["status"] == "updated" and s["result"][1]["reasons"][0]["code"] == "1013"
    assert err(st, "POST", CAR + ".json", {}, {"action": "createOnly", "dedupeBy": "idField",
                                              "input": [{"vin": "x"}]}) == "1003"
    # delete by either key
    s = call(st, "POST", CE + "/delete.json", {}, {"deleteBy": "dedupeFields", "input": [
        {"courseId": "PG-201", "leadId": 1001}, {"courseId": "PG-201", "leadId": 1002}]})
    assert [r["status"] for r in s["result"]] == ["deleted", "skipped"]
    assert err(st, "POST", CE + "/delete.json", {}, {"input": [{"courseId": "c", "leadId": i} for i in range(301)]}) \
        == "1003"

    # no types at all; then a type given in full
    assert control(st, "POST", "/_emulator/custom_objects", []) == []
    assert call(st, "GET", PREFIX + ".json")["result"] == []
    assert err(st, "GET", CAR + "/describe.json") == "1013"
    control(st, "POST", "/_emulator/custom_objects", ["car_c", {
        "apiName": "companies", "dedupeFields": ["code"], "searchable": [["code"]],
        "fields": [GUID] + STAMPS + [F("code", "Code", "string", 20, False)]}])
    assert [t["name"] for t in call(st, "GET", PREFIX + ".json")["result"]] == ["car_c", "companies"]
    assert len(st.objects["customobjects/car_c"]) == 4 and st.objects["companies"]
    reset(st)
    assert len(st.objects["customobjects/course_enrollment_c"]) == 3
    print("emu_custom_objects self-test: ok")

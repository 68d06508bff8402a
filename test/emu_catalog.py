"""Catalog objects for the Marketo emulator (the notes, "Catalog objects").

Endpoints:
  GET  /rest/v1/lists.json                     id, name, programName,
       workspaceName (each comma-separated), batchSize, nextPageToken
  GET  /rest/asset/v1/program/byName.json      name, includeTags, includeCosts
  GET  /rest/asset/v1/smartLists.json          folder, maxReturn, offset,
       earliestUpdatedAt, latestUpdatedAt
  GET  /rest/asset/v1/smartList/{id}.json      includeRules
  GET  /rest/asset/v1/smartList/byName.json    name
  GET  /rest/v1/campaigns.json                 id, name, programName,
       workspaceName (each comma-separated), isTriggerable, batchSize,
       nextPageToken
  GET  /rest/v1/campaigns/{id}.json
  POST /rest/v1/campaigns/{id}/trigger.json    {"input": {"leads", "tokens"}}
  POST /rest/v1/campaigns/{id}/schedule.json   {"input": {"runAt", "tokens",
       "cloneToProgramName"}}
A requested campaign makes each lead a member of it (the lead's
smartCampaignMembership); every run is kept in state.campaign_runs.
(GET /rest/asset/v1/programs.json is asset_programs() in marketo_emulator.)

Control: POST /_emulator/programs {"generate": n, "startId": k, "name":
"Webinar %d", "channel": c, "updatedAt": t} adds programs n programs with
ids from k, named by the pattern; GET lists every program.

Where the docs are silent, the choice is marked ASSUMPTION.
"""
import json
import time
from datetime import datetime, timezone


def _api():
    import marketo_emulator
    return marketo_emulator


# The static lists' own records, by the ids of the main module's member
# sets.  ASSUMPTION: names as the bulk extract's staticListName expects
# them ("List <id>", see emu_bulk), programs and workspaces of the seed.
LIST_INFO = {
    1001: {"description": "Customers to invite", "programName": "Big Blue Thing Product Launch",
           "workspaceName": "Default", "createdAt": "2016-05-17T19:30:00Z",
           "updatedAt": "2016-05-17T19:32:44Z"},
    1002: {"description": "", "programName": "Quiet Program", "workspaceName": "Default",
           "createdAt": "2017-01-02T03:00:00Z", "updatedAt": "2017-01-02T03:04:05Z"},
    1003: {"description": "Imported from a trade show", "programName": "Big Webinar",
           "workspaceName": "EMEA", "createdAt": "2018-03-04T10:00:00Z",
           "updatedAt": "2018-03-05T11:00:00Z"},
    1004: {"description": "", "programName": "Big Webinar", "workspaceName": "Default",
           "createdAt": "2019-07-08T09:00:00Z", "updatedAt": "2019-07-08T09:00:00Z"},
    3379: {"description": "Newsletter", "programName": "Big Blue Thing Product Launch",
           "workspaceName": "Default", "createdAt": "2016-05-01T00:00:00Z",
           "updatedAt": "2016-05-17T19:32:44Z"},
}


# Smart lists of the asset API: five named ones, then 200 segments (for
# offset paging past one page of 200).  Times end "Z+0000" as the docs'
# samples do.
SMART_LIST_FOLDER = {"id": 31, "type": "Folder"}


def seed_smart_lists():
    named = [
        (5001, "2018 Leads", "Leads created in 2018", {"id": 31, "type": "Folder"}, "Default",
         "2018-01-02T10:00:00Z", "2018-06-01T10:00:00Z"),
        (5002, "Active Prospects", "", {"id": 31, "type": "Folder"}, "Default",
         "2019-03-04T10:00:00Z", "2024-02-10T08:00:00Z"),
        (5003, "Webinar Invitees", "Who gets the invitation", {"id": 1046, "type": "Program"}, "Default",
         "2024-02-01T12:00:00Z", "2024-02-15T12:00:00Z"),
        (5004, "EMEA, Tier 1", "", {"id": 32, "type": "Folder"}, "EMEA",
         "2024-03-01T09:00:00Z", "2024-03-20T09:00:00Z"),
        (5005, "Launch Audience", "", {"id": 1044, "type": "Program"}, "Default",
         "2024-01-10T09:00:00Z", "2024-04-02T10:00:00Z"),
    ]
    lists = {}
    for sl_id, name, desc, folder, ws, created, updated in named:
        lists[sl_id] = {"id": sl_id, "name": name, "description": desc, "createdAt": created,
                        "updatedAt": updated, "folder": folder, "workspace": ws}
    for k in range(200):
        sl_id = 5101 + k
        lists[sl_id] = {"id": sl_id, "name": "Segment %d" % sl_id, "description": "",
                        "createdAt": "2023-01-01T00:00:00Z", "updatedAt": "2023-01-01T00:00:00Z",
                        "folder": {"id": 33, "type": "Folder"}, "workspace": "Default"}
    return lists


# Smart campaigns, as the Get Campaigns reference shows them.  "requested":
# it has a "Campaign is Requested" trigger with Web Service API as its
# source (not in the record).  3746 and 3678 are the ids of the leads'
# smart campaign memberships in the main module.
CAMPAIGNS = [
    (3678, "Request: Welcome Series", "Requested by the signup form", "trigger", 1044, True, True,
     "2015-04-06T18:37:30Z", "2015-04-06T18:37:41Z"),
    (3701, "Monthly Newsletter", "", "batch", 1045, False, False,
     "2017-01-02T03:00:00Z", "2024-02-03T08:00:00Z"),
    (3702, "Request: Paused Intake", "", "trigger", 1045, False, True,
     "2017-05-06T07:00:00Z", "2017-05-06T07:00:00Z"),
    (3703, "Score Change Alert", "Fires on score changes", "trigger", 1046, True, False,
     "2018-03-04T10:00:00Z", "2018-03-05T11:00:00Z"),
    (3746, "Webinar Follow-up", "", "batch", 1046, False, False,
     "2018-06-01T18:00:04Z", "2018-06-01T18:00:06Z"),
]
CAMPAIGN_WORKSPACES = {3703: "EMEA"}
MAX_TRIGGER_LEADS = 100
MAX_TOKENS = 100
SCHEDULE_DELAY = 300            # seconds: scheduled runs wait at least five minutes
SCHEDULE_HORIZON = 2 * 366 * 86400  # runAt at most two years ahead


def seed_campaigns():
    return {c[0]: {"id": c[0], "name": c[1], "description": c[2], "type": c[3], "programId": c[4],
                   "active": c[5], "requested": c[6], "createdAt": c[7], "updatedAt": c[8],
                   "workspaceName": CAMPAIGN_WORKSPACES.get(c[0], "Default")}
            for c in CAMPAIGNS}


def reset(state):
    for list_id in LIST_INFO:
        state.lists.setdefault(list_id, set())
    state.smart_lists = seed_smart_lists()
    state.campaigns = seed_campaigns()
    state.campaign_runs = []


def list_record(list_id):
    info = LIST_INFO.get(list_id, {"description": "", "programName": "", "workspaceName": "Default",
                                   "createdAt": "2024-01-01T00:00:00Z",
                                   "updatedAt": "2024-01-01T00:00:00Z"})
    return dict({"id": list_id, "name": "List %d" % list_id}, **info)


def name_filters(params):
    """The id, name, programName and workspaceName filters of lists.json
    and campaigns.json: each optional, comma-separated, ANDed.  ASSUMPTION:
    a value matches exactly, and an id that is not a number is 1003."""
    wanted = {}
    for param in ("id", "name", "programName", "workspaceName"):
        if params.get(param):
            wanted[param] = set(params[param].split(","))
    if "id" in wanted:
        try:
            wanted["id"] = {int(v) for v in wanted["id"]}
        except ValueError:
            raise _api().ApiError("1003", "Invalid id '%s'" % params["id"])
    return wanted


def static_lists(state, params):
    """GET /rest/v1/lists.json: the lists whose id, name, programName and
    workspaceName are among the given values (each filter optional,
    comma-separated, ANDed), in id order, paged by token.  ASSUMPTION: a
    filter value matches exactly, and an id that is not a number is 1003."""
    api = _api()
    wanted = name_filters(params)
    with state.lock:
        records = [rec for rec in (list_record(i) for i in sorted(state.lists))
                   if all(rec[p] in values for p, values in wanted.items())]
        return api.page_of(records, params)


def program_by_name(state, params):
    """GET /rest/asset/v1/program/byName.json: the program of that exact
    name, as the browse shows it, with its tags and costs when asked for;
    the asset API's "nothing found" warning when there is none."""
    api = _api()
    name = params.get("name")
    if not name:
        raise api.ApiError("701", "name cannot be blank")  # ASSUMPTION on the code
    with state.lock:
        for program_id in sorted(state.programs):
            program = state.programs[program_id]
            if program["name"] == name:
                rec = api.program_listed(program)
                if params.get("includeTags") == "true":
                    rec["tags"] = list(program["tags"])
                if params.get("includeCosts") == "true":
                    rec["costs"] = list(program["costs"])
                return api.ok([rec], warnings=[], errors=[])
    return {"success": True, "warnings": [api.NO_ASSETS]}


def smart_list_listed(rec):
    return dict(rec, createdAt=rec["createdAt"] + "+0000", updatedAt=rec["updatedAt"] + "+0000",
                url="https://app-emulator.marketo.com/#SL%dA1" % rec["id"])


def smart_lists(state, params):
    """GET /rest/asset/v1/smartLists.json (the docs' "Browse"): maxReturn
    (default 20, at most 200) and offset page it; folder ({"id", "type"})
    keeps the lists directly in that folder; earliestUpdatedAt and
    latestUpdatedAt keep those updated within the range.  ASSUMPTION: as
    programs.json: id order, inclusive bounds, 1003 for bad values."""
    api = _api()
    try:
        max_return = int(params.get("maxReturn", 20))
        offset = int(params.get("offset", 0))
    except ValueError:
        raise api.ApiError("1003", "Invalid maxReturn or offset")
    if not 1 <= max_return <= api.MAX_ASSETS or offset < 0:
        raise api.ApiError("1003", "maxReturn must be between 1 and %d, offset 0 or more" % api.MAX_ASSETS)
    low = api.asset_time(params["earliestUpdatedAt"], "earliestUpdatedAt") if params.get("earliestUpdatedAt") else None
    high = api.asset_time(params["latestUpdatedAt"], "latestUpdatedAt") if params.get("latestUpdatedAt") else None
    folder = None
    if params.get("folder"):
        try:
            folder = json.loads(params["folder"])
            folder = (int(folder["id"]), str(folder["type"]).lower())
        except (ValueError, KeyError, TypeError):
            raise api.ApiError("1003", "Invalid folder '%s'" % params["folder"])
    with state.lock:
        found = []
        for sl_id in sorted(state.smart_lists):
            rec = state.smart_lists[sl_id]
            t = api.asset_time(rec["updatedAt"], "updatedAt")
            if (low is not None and t < low) or (high is not None and t > high):
                continue
            if folder and (rec["folder"]["id"], rec["folder"]["type"].lower()) != folder:
                continue
            found.append(smart_list_listed(rec))
    page = found[offset:offset + max_return]
    if not page:
        return {"success": True, "warnings": [api.NO_ASSETS]}
    return api.ok(page, warnings=[], errors=[])


# ASSUMPTION: the rules of every emulated smart list are one filter.
SMART_LIST_RULES = {"filterMatchType": "all", "triggers": [], "filters": [
    {"id": 459, "name": "Lead Was Created", "ruleTypeId": 2, "ruleType": "Activity",
     "operator": "occurs", "conditions": []}]}


def smart_list_by_id(state, sl_id, params):
    """GET /rest/asset/v1/smartList/{id}.json, with the rules when
    includeRules is true; "No assets found" when there is none."""
    api = _api()
    try:
        sl_id = int(sl_id)
    except ValueError:
        raise api.ApiError("1003", "Invalid smart list id '%s'" % sl_id)  # ASSUMPTION on the code
    with state.lock:
        rec = state.smart_lists.get(sl_id)
        if rec is None:
            return {"success": True, "warnings": [api.NO_ASSETS]}
        rec = smart_list_listed(rec)
    if params.get("includeRules") == "true":
        rec["rules"] = SMART_LIST_RULES
    return api.ok([rec], warnings=[], errors=[])


def smart_list_by_name(state, params):
    """GET /rest/asset/v1/smartList/byName.json: an exact name match."""
    api = _api()
    name = params.get("name")
    if not name:
        raise api.ApiError("701", "name cannot be blank")  # ASSUMPTION on the code
    with state.lock:
        for sl_id in sorted(state.smart_lists):
            if state.smart_lists[sl_id]["name"] == name:
                return api.ok([smart_list_listed(state.smart_lists[sl_id])], warnings=[], errors=[])
    return {"success": True, "warnings": [api.NO_ASSETS]}


def campaign_record(state, c):
    """A campaign as Get Campaigns shows it (the reference's Campaign)."""
    program = state.programs.get(c["programId"])
    return {"id": c["id"], "name": c["name"], "description": c["description"], "type": c["type"],
            "programName": program["name"] if program else None, "programId": c["programId"],
            "workspaceName": c["workspaceName"], "createdAt": c["createdAt"],
            "updatedAt": c["updatedAt"], "active": c["active"]}


def triggerable(c):
    """What isTriggerable=true keeps and Request Campaign accepts: an active
    trigger campaign requested by the Web Service API."""
    return c["type"] == "trigger" and c["active"] and c["requested"]


def campaigns(state, params):
    """GET /rest/v1/campaigns.json: the campaigns whose id, name,
    programName and workspaceName are among the given values (each filter
    optional, comma-separated, ANDed), only the triggerable ones with
    isTriggerable=true, in id order, paged by token.  ASSUMPTION: a value
    matches exactly; isTriggerable other than true filters nothing."""
    api = _api()
    wanted = name_filters(params)
    with state.lock:
        records = []
        for c_id in sorted(state.campaigns):
            c = state.campaigns[c_id]
            rec = campaign_record(state, c)
            if params.get("isTriggerable") == "true" and not triggerable(c):
                continue
            if all(rec[p] in values for p, values in wanted.items()):
                records.append(rec)
        return api.page_of(records, params)


def campaign_of(state, text):
    """The campaign of a path's id; 1013 when there is none (the error
    codes: "Get object (list, campaign) by id returns this error code")."""
    api = _api()
    try:
        c_id = int(text)
    except ValueError:
        raise api.ApiError("1003", "Invalid campaign id '%s'" % text)
    if c_id not in state.campaigns:
        raise api.ApiError("1013", "Campaign not found")
    return state.campaigns[c_id]


def campaign_input(body):
    api = _api()
    if not isinstance(body, dict) or not isinstance(body.get("input", {}), dict):
        raise api.ApiError("609", "Invalid JSON")
    return body.get("input", {})


def campaign_tokens(given):
    """The tokens of a run: [{"name": "{{my.x}}", "value"}], at most 100.
    ASSUMPTION: a name not written {{my.…}} or more than 100 is 1003."""
    api = _api()
    tokens = given or []
    if not isinstance(tokens, list) or len(tokens) > MAX_TOKENS:
        raise api.ApiError("1003", "tokens must be an array of at most %d tokens" % MAX_TOKENS)
    for t in tokens:
        if not isinstance(t, dict) or not str(t.get("name", "")).startswith("{{my.") \
                or not str(t.get("name")).endswith("}}") or not isinstance(t.get("value"), str):
            raise api.ApiError("1003", "Invalid token '%s'" % json.dumps(t))
    return tokens


def trigger(state, c_id, body):
    """POST /rest/v1/campaigns/{id}/trigger.json (Request Campaign): the
    leads, at most 100, run through the flow of a triggerable campaign;
    a batch campaign is 1003 (the error codes' "Invalid data ... when using
    Request Campaign on a batch campaign").  ASSUMPTION: an inactive or not
    requestable trigger campaign is 1003 too; no leads is 701; a lead that
    does not exist is 1004 and nothing runs."""
    api = _api()
    data = campaign_input(body)
    with state.lock:
        c = campaign_of(state, c_id)
        leads = data.get("leads")
        if not leads:
            raise api.ApiError("701", "leads cannot be blank")
        if not isinstance(leads, list) or len(leads) > MAX_TRIGGER_LEADS:
            raise api.ApiError("1003", "At most %d leads are allowed per call" % MAX_TRIGGER_LEADS)
        if not triggerable(c):
            raise api.ApiError("1003", "Campaign %d is not a trigger campaign that can be requested "
                                       "from the Web Service API" % c["id"])
        tokens = campaign_tokens(data.get("tokens"))
        ids = []
        for lead in leads:
            lead_id = lead.get("id") if isinstance(lead, dict) else None
            if not isinstance(lead_id, int):
                raise api.ApiError("1003", "Invalid lead '%s'" % json.dumps(lead))
            if state.leads.get(lead_id) is None:
                raise api.ApiError("1004", "Lead [%d] not found" % lead_id)
            ids.append(lead_id)
        now = api.now_iso()
        for lead_id in ids:
            member = state.memberships.setdefault(lead_id, {}).setdefault("smartCampaignMembership", [])
            if not any(m["smartCampaignId"] == c["id"] for m in member):
                member.append({"smartCampaignId": c["id"], "createdAt": now, "updatedAt": now})
        state.campaign_runs.append({"campaignId": c["id"], "kind": "trigger", "leads": ids,
                                    "tokens": tokens})
    return api.ok([{"id": c["id"]}])


def schedule(state, c_id, body):
    """POST /rest/v1/campaigns/{id}/schedule.json: a batch campaign's run at
    runAt, which waits at least five minutes and is at most two years ahead
    (1042, "Invalid runAt date"); without runAt, in five minutes.
    cloneToProgramName is kept with the run.  ASSUMPTION: a trigger
    campaign is 1003; a runAt sooner than five minutes runs in five."""
    api = _api()
    data = campaign_input(body)
    with state.lock:
        c = campaign_of(state, c_id)
        if c["type"] != "batch":
            raise api.ApiError("1003", "Campaign %d is not a batch campaign" % c["id"])
        tokens = campaign_tokens(data.get("tokens"))
        now = time.time()
        run_at = now + SCHEDULE_DELAY
        if data.get("runAt"):
            asked = api.asset_time(str(data["runAt"]), "runAt")
            if asked > now + SCHEDULE_HORIZON:
                raise api.ApiError("1042", "Invalid runAt date")
            run_at = max(asked, run_at)
        state.campaign_runs.append({
            "campaignId": c["id"], "kind": "schedule", "tokens": tokens,
            "runAt": datetime.fromtimestamp(run_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cloneToProgramName": data.get("cloneToProgramName")})
    return api.ok([{"id": c["id"]}])


def route(state, method, path, params, body=None):
    if method == "POST" and path.startswith("/rest/v1/campaigns/"):
        parts = path[len("/rest/v1/campaigns/"):].split("/")
        if len(parts) == 2 and parts[1] == "trigger.json":
            return trigger(state, parts[0], body)
        if len(parts) == 2 and parts[1] == "schedule.json":
            return schedule(state, parts[0], body)
        return None
    if method != "GET":
        return None
    if path == "/rest/v1/lists.json":
        return static_lists(state, params)
    if path == "/rest/asset/v1/program/byName.json":
        return program_by_name(state, params)
    if path == "/rest/asset/v1/smartLists.json":
        return smart_lists(state, params)
    if path == "/rest/asset/v1/smartList/byName.json":
        return smart_list_by_name(state, params)
    if path.startswith("/rest/asset/v1/smartList/") and path.endswith(".json") \
            and path.count("/") == 5:
        return smart_list_by_id(state, path[len("/rest/asset/v1/smartList/"):-len(".json")], params)
    if path == "/rest/v1/campaigns.json":
        return campaigns(state, params)
    if path.startswith("/rest/v1/campaigns/") and path.endswith(".json") and path.count("/") == 4:
        with state.lock:
            c = campaign_of(state, path[len("/rest/v1/campaigns/"):-len(".json")])
            return _api().ok([campaign_record(state, c)])
    return None


def add_programs(state, arg):
    """Control: generated programs, of 2024-01-01 unless updatedAt says."""
    start = int(arg.get("startId", 2000))
    for program_id in range(start, start + int(arg.get("generate", 0))):
        program = {"id": program_id, "name": arg.get("name", "Program %d") % program_id,
                   "type": arg.get("type", "Default"), "channel": arg.get("channel", "Webinar"),
                   "status": "", "workspace": arg.get("workspace", "Default"),
                   "costs": [], "tags": []}
        if arg.get("updatedAt"):
            program["createdAt"] = program["updatedAt"] = arg["updatedAt"]
        state.programs[program_id] = program
        state.members.setdefault(program_id, {})


def dump_programs(state):
    return [{k: v for k, v in p.items() if k not in ("costs", "tags")}
            for _, p in sorted(state.programs.items())]

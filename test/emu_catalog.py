"""Catalog objects for the Marketo emulator (the notes, "Catalog objects").

Endpoints:
  GET  /rest/v1/lists.json                     id, name, programName,
       workspaceName (each comma-separated), batchSize, nextPageToken
  GET  /rest/asset/v1/program/byName.json      name, includeTags, includeCosts
(GET /rest/asset/v1/programs.json is asset_programs() in marketo_emulator.)

Control: POST /_emulator/programs {"generate": n, "startId": k, "name":
"Webinar %d", "channel": c, "updatedAt": t} adds programs n programs with
ids from k, named by the pattern; GET lists every program.

Where the docs are silent, the choice is marked ASSUMPTION.
"""


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


def reset(state):
    for list_id in LIST_INFO:
        state.lists.setdefault(list_id, set())


def list_record(list_id):
    info = LIST_INFO.get(list_id, {"description": "", "programName": "", "workspaceName": "Default",
                                   "createdAt": "2024-01-01T00:00:00Z",
                                   "updatedAt": "2024-01-01T00:00:00Z"})
    return dict({"id": list_id, "name": "List %d" % list_id}, **info)


def static_lists(state, params):
    """GET /rest/v1/lists.json: the lists whose id, name, programName and
    workspaceName are among the given values (each filter optional,
    comma-separated, ANDed), in id order, paged by token.  ASSUMPTION: a
    filter value matches exactly, and an id that is not a number is 1003."""
    api = _api()
    wanted = {}
    for param in ("id", "name", "programName", "workspaceName"):
        if params.get(param):
            wanted[param] = set(params[param].split(","))
    if "id" in wanted:
        try:
            wanted["id"] = {int(v) for v in wanted["id"]}
        except ValueError:
            raise api.ApiError("1003", "Invalid id '%s'" % params["id"])
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


def route(state, method, path, params):
    if method != "GET":
        return None
    if path == "/rest/v1/lists.json":
        return static_lists(state, params)
    if path == "/rest/asset/v1/program/byName.json":
        return program_by_name(state, params)
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

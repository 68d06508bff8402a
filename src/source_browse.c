/*-------------------------------------------------------------------------
 *
 * source_browse.c
 *		  Read sources of objects read by path rather than by filterType:
 *		  a browse lists every record page by page (field schemas); a read
 *		  by key gets one key value's records per call, the value in the
 *		  path (a field by name, a lead's memberships, a list's members, a
 *		  program's costs or tags through the asset API).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "read_source.h"

/* ---------------------------------------------------------------------
 * Browse
 * ---------------------------------------------------------------------
 */

typedef struct BrowseState
{
	bool		done;			/* its one listing has been started */
} BrowseState;

static bool
browse_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	out->calls = 1;
	out->estimated = true;		/* pages of a whole listing */
	return true;
}

static char *
browse_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return pstrdup("none (every record, page by page)");
}

static void *
browse_begin(MktoScan *scan, List *private, List *exprs)
{
	return palloc0(sizeof(BrowseState));
}

static int64
browse_rescan(MktoScan *scan, void *state)
{
	return 1;
}

static void
browse_start_pass(MktoScan *scan, void *state)
{
	((BrowseState *) state)->done = false;
}

static bool
browse_next_chunk(MktoScan *scan, void *state)
{
	BrowseState *bs = state;

	if (bs->done)
		return false;
	bs->done = true;
	return true;
}

static void
browse_request(MktoScan *scan, void *state, MktoRequest *req,
			   StringInfo query, const char *page_token)
{
	req->path = scan->use->path;
	if (scan->use->takes_fields)
		mkto_append_query_param(query, "fields", scan->fields_param);
	mkto_append_page_params(query, page_token);
}

const MktoReadSource mkto_source_browse = {
	.name = "browse",
	.method = "REST listing",
	.reads_all = true,
	.plan = browse_plan,
	.describe = browse_describe,
	.shown_request = mkto_shown_get,
	.begin = browse_begin,
	.rescan = browse_rescan,
	.start_pass = browse_start_pass,
	.next_chunk = browse_next_chunk,
	.request = browse_request,
};

/* ---------------------------------------------------------------------
 * By key: one value a call, in the path
 * ---------------------------------------------------------------------
 */

static bool
by_key_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	return mkto_plan_values(in, out, 1);
}

static char *
by_key_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return psprintf("%s, one call per value", strVal(linitial(private)));
}

static char *
by_key_unfiltered_detail(const MktoObjectDesc *obj)
{
	return psprintf("Marketo's REST API reads %s one %s at a time.", obj->name,
					obj->injected_key_field ? obj->injected_key_field : obj->id_field);
}

static int64
by_key_rescan(MktoScan *scan, void *state)
{
	return mkto_rescan_values(scan, state, 1);
}

static bool
by_key_next_chunk(MktoScan *scan, void *state)
{
	MktoValuesState *vs = state;

	vs->chunk = mkto_values_chunk(vs->values, &vs->next_value, 1);
	if (vs->chunk == NULL)
		return false;
	/* the key is in the path, not in the records */
	if (scan->opts->object->injected_key_field)
		scan->injected_key = mkto_track_json(json_object_new_string(vs->chunk));
	return true;
}

static void
by_key_request(MktoScan *scan, void *state, MktoRequest *req,
			   StringInfo query, const char *page_token)
{
	MktoValuesState *vs = state;

	req->path = mkto_path_with_key(scan->use->path, vs->chunk);
	if (scan->use->takes_fields)
		mkto_append_query_param(query, "fields", scan->fields_param);
	if (scan->use->paged)
		mkto_append_page_params(query, page_token);
}

/* The saved chunk current again: its value, and the key records lack. */
static void
by_key_restore_chunk(MktoScan *scan, void *state, void *chunk)
{
	mkto_values_restore_chunk(scan, state, chunk);
	if (scan->opts->object->injected_key_field)
		scan->injected_key = mkto_track_json(json_object_new_string(chunk));
}

/* The records: the result, or a list inside its first (only) record. */
static json_object *
by_key_records(MktoScan *scan, void *state, MktoResponse *resp)
{
	const char *member_name = scan->use->records_member;
	json_object *parent;
	json_object *member = NULL;

	if (resp->result == NULL || member_name == NULL)
		return resp->result;
	parent = json_object_array_length(resp->result) > 0
		? json_object_array_get_idx(resp->result, 0) : NULL;
	if (parent == NULL || !json_object_object_get_ex(parent, member_name, &member) ||
		!json_object_is_type(member, json_type_array))
		return NULL;
	return member;
}

const MktoReadSource mkto_source_by_key = {
	.name = "by key",
	.method = "REST filter",
	.values_per_call = 1,
	.plan = by_key_plan,
	.describe = by_key_describe,
	.shown_request = mkto_shown_get,
	.unfiltered_detail = by_key_unfiltered_detail,
	.begin = mkto_begin_values,
	.rescan = by_key_rescan,
	.start_pass = mkto_values_start_pass,
	.next_chunk = by_key_next_chunk,
	.request = by_key_request,
	/* one key's calls do not depend on another's: several go together */
	.save_chunk = mkto_values_save_chunk,
	.restore_chunk = by_key_restore_chunk,
	.records = by_key_records,
};

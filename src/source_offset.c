/*-------------------------------------------------------------------------
 *
 * source_offset.c
 *		  Read sources of the catalog objects: the asset API's listings,
 *		  paged by maxReturn and offset (programs, by id values or an
 *		  updatedAt range or all), and a read by values sent as a query
 *		  parameter of the field's own name (program/byName.json, the
 *		  lists.json and campaigns.json filters) or in the path, one a
 *		  call (smartList/{id}.json).
 *
 * The asset API has no nextPageToken: each offset is a chunk of its own,
 * and a full page means another may follow.  Its "nothing found" is a
 * success without a result (a warning), which ends the chunk like a short
 * page.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "read_source.h"

/* The asset API's largest maxReturn (the notes, "Catalog objects"). */
#define MKTO_MAX_ASSETS			200
/* Records a listing of unknown size is assumed to hold, for its calls. */
#define MKTO_ASSUMED_ASSETS		1000

#define ASSET_BOUND_LOWER		1
#define ASSET_BOUND_UPPER		2

typedef struct AssetState
{
	MktoValuesState *values;	/* the id filter's; NULL for a listing */
	char	   *chunk;			/* its values of this offset's call, in
								 * scan_cxt: chunk_cxt goes per offset */
	int			bounds;			/* ASSET_BOUND_*: the updatedAt range given */
	ExprState  *bound_state[2];
	char	   *bound_text[2];	/* earliestUpdatedAt, latestUpdatedAt */
	bool		empty;			/* a NULL bound: nothing matches */
	bool		in_chunk;		/* a values chunk or the listing is open */
	int			offset;			/* of the current page */
	bool		page_full;		/* the last page had maxReturn records */
	bool		one_per_value;	/* by id: a chunk's call returns them all */
} AssetState;

/* The table has a column of the members no other column maps, in use. */
static bool
wants_unmapped(MktoScan *scan)
{
	ListCell   *lc;

	foreach(lc, scan->fields)
		if (strcmp(strVal(lfirst(lc)), MKTO_UNMAPPED_FIELD) == 0)
			return true;
	return false;
}

/*
 * Each record's members that no column of the table maps, as one object
 * under MKTO_UNMAPPED_FIELD, so that what Marketo adds to a record (a
 * program's headStart, tags, costs, ...) is read without a column for it.
 */
static void
add_unmapped(MktoScan *scan, json_object *record)
{
	json_object *unmapped = json_object_new_object();

	{
		json_object_object_foreach(record, key, value)
		{
			if (mkto_column_by_field(scan->opts, key) == NULL)
				json_object_object_add(unmapped, key, json_object_get(value));
		}
	}
	json_object_object_add(record, MKTO_UNMAPPED_FIELD,
						   json_object_new_string(json_object_to_json_string_ext(unmapped,
																				 JSON_C_TO_STRING_PLAIN)));
	json_object_put(unmapped);
}

/*
 * Asset records hold objects (a program's folder): a column of one reads
 * its JSON text, which the column's type (jsonb) takes as input.  The
 * unmapped members are gathered first, in their own JSON types.
 */
static void
objects_as_text(MktoScan *scan, json_object *records)
{
	bool		unmapped = wants_unmapped(scan);

	for (size_t i = 0; records && i < json_object_array_length(records); i++)
	{
		json_object *record = json_object_array_get_idx(records, i);

		if (!json_object_is_type(record, json_type_object))
			continue;
		if (unmapped)
			add_unmapped(scan, record);
		{
			/* replacing a member's value leaves the iteration intact */
			json_object_object_foreach(record, key, value)
			{
				if (json_object_is_type(value, json_type_object) ||
					json_object_is_type(value, json_type_array))
					json_object_object_add(record, key,
										   json_object_new_string(json_object_to_json_string(value)));
			}
		}
	}
}

/* ---------------------------------------------------------------------
 * Asset API listings by offset
 * ---------------------------------------------------------------------
 */

/* By the use's field (the id), values in calls of maxReturn. */
static bool
asset_filter_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	if (!in->has_filter || in->filter.column == NULL ||
		strcmp(in->filter.column->field, in->use->field) != 0)
		return false;
	return mkto_plan_values(in, out, MKTO_MAX_ASSETS);
}

/* Every record, or those an updatedAt range gives, maxReturn a call. */
static bool
asset_listing_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	int			bounds = 0;
	Expr	   *bound[2] = {NULL, NULL};
	ListCell   *lc;

	foreach(lc, in->scan_clauses)
	{
		MktoRangeQual range;

		if (!mkto_range_qual(in->root, in->baserel, in->opts, "updatedAt",
							 lfirst_node(RestrictInfo, lc), &range))
			continue;
		if (range.is_lower && !(bounds & ASSET_BOUND_LOWER))
		{
			bound[0] = range.value_expr;
			bounds |= ASSET_BOUND_LOWER;
		}
		else if (!range.is_lower && !(bounds & ASSET_BOUND_UPPER))
		{
			bound[1] = range.value_expr;
			bounds |= ASSET_BOUND_UPPER;
		}
	}
	for (int i = 0; i < 2; i++)
		if (bound[i])
			out->exprs = lappend(out->exprs, bound[i]);
	out->private = list_make1(makeInteger(bounds));
	out->calls = ceil((double) MKTO_ASSUMED_ASSETS / MKTO_MAX_ASSETS);
	out->estimated = true;
	return true;
}

/* "3 values", for EXPLAIN, from the private list of mkto_plan_values(). */
static char *
describe_values(List *private)
{
	int			known = intVal(lthird(private));

	if (known >= 0)
		return psprintf("%d value%s", known, known == 1 ? "" : "s");
	return psprintf("values from %s",
					intVal(lsecond(private)) ? "an array parameter" : "a parameter");
}

static char *
asset_filter_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return psprintf("filterType=%s, %s, maxReturn=%d by offset",
					strVal(linitial(private)), describe_values(private), MKTO_MAX_ASSETS);
}

static char *
asset_listing_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	int			bounds = intVal(linitial(private));

	if (bounds == 0)
		return psprintf("none (every record, maxReturn=%d by offset)", MKTO_MAX_ASSETS);
	return psprintf("%s%s%s, maxReturn=%d by offset",
					bounds & ASSET_BOUND_LOWER ? "earliestUpdatedAt" : "",
					bounds == (ASSET_BOUND_LOWER | ASSET_BOUND_UPPER) ? "/" : "",
					bounds & ASSET_BOUND_UPPER ? "latestUpdatedAt" : "",
					MKTO_MAX_ASSETS);
}

static char *
asset_shown_request(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	return psprintf("GET /rest%s?maxReturn=%d&offset=...", use->path, MKTO_MAX_ASSETS);
}

static char *
asset_unfiltered_detail(const MktoObjectDesc *obj)
{
	return psprintf("Marketo's asset API reads %s by filterType/filterValues or as a listing.",
					obj->name);
}

static void *
asset_filter_begin(MktoScan *scan, List *private, List *exprs)
{
	AssetState *as = palloc0(sizeof(AssetState));

	as->values = mkto_begin_values(scan, private, exprs);
	as->one_per_value = strcmp(as->values->field, scan->opts->object->id_field) == 0;
	return as;
}

static void *
asset_listing_begin(MktoScan *scan, List *private, List *exprs)
{
	AssetState *as = palloc0(sizeof(AssetState));
	int			next = 0;

	as->bounds = intVal(linitial(private));
	for (int i = 0; i < 2; i++)
		if (as->bounds & (i == 0 ? ASSET_BOUND_LOWER : ASSET_BOUND_UPPER))
			as->bound_state[i] = ExecInitExpr(list_nth(exprs, next++),
											  (PlanState *) scan->node);
	return as;
}

static int64
asset_filter_rescan(MktoScan *scan, void *state)
{
	return mkto_rescan_values(scan, ((AssetState *) state)->values, MKTO_MAX_ASSETS);
}

/*
 * The range's bounds as whole seconds, widened outwards (the local recheck
 * keeps SQL's bounds); a NULL bound matches nothing.
 */
static int64
asset_listing_rescan(MktoScan *scan, void *state)
{
	AssetState *as = state;
	ExprContext *econtext = scan->node->ss.ps.ps_ExprContext;

	as->empty = false;
	for (int i = 0; i < 2; i++)
	{
		bool		isnull;
		TimestampTz t;

		as->bound_text[i] = NULL;
		if (as->bound_state[i] == NULL)
			continue;
		t = DatumGetTimestampTz(ExecEvalExpr(as->bound_state[i], econtext, &isnull));
		if (isnull)
		{
			as->empty = true;
			continue;
		}
		if (TIMESTAMP_NOT_FINITE(t))
			continue;			/* -infinity or infinity bounds nothing */
		t = i == 0 ? mkto_whole_second_down(t) : mkto_whole_second_up(t);
		as->bound_text[i] = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(t));
	}
	return as->empty ? 0 : 1;
}

static void
asset_start_pass(MktoScan *scan, void *state)
{
	AssetState *as = state;

	if (as->values)
		mkto_values_start_pass(scan, as->values);
	as->in_chunk = false;
	as->page_full = false;
}

/* The next offset of the open chunk after a full page, else the next chunk. */
static bool
asset_next_offset(AssetState *as)
{
	if (as->in_chunk && as->page_full)
	{
		as->offset += MKTO_MAX_ASSETS;
		as->page_full = false;
		return true;
	}
	return false;
}

static bool
asset_filter_next_chunk(MktoScan *scan, void *state)
{
	AssetState *as = state;
	char	   *chunk;

	if (asset_next_offset(as))
		return true;
	chunk = mkto_values_chunk(as->values->values, &as->values->next_value,
							  MKTO_MAX_ASSETS);
	as->in_chunk = chunk != NULL;
	if (chunk == NULL)
		return false;
	as->chunk = MemoryContextStrdup(scan->scan_cxt, chunk);
	as->offset = 0;
	return true;
}

static bool
asset_listing_next_chunk(MktoScan *scan, void *state)
{
	AssetState *as = state;

	if (asset_next_offset(as))
		return true;
	if (as->in_chunk || as->empty)
		return false;			/* the listing ended */
	as->in_chunk = true;
	as->offset = 0;
	return true;
}

static void
asset_request(MktoScan *scan, void *state, MktoRequest *req,
			  StringInfo query, const char *page_token)
{
	AssetState *as = state;
	char		number[16];

	req->path = scan->use->path;
	snprintf(number, sizeof(number), "%d", MKTO_MAX_ASSETS);
	mkto_append_query_param(query, "maxReturn", number);
	snprintf(number, sizeof(number), "%d", as->offset);
	mkto_append_query_param(query, "offset", number);
	if (as->values)
	{
		mkto_append_query_param(query, "filterType", as->values->field);
		mkto_append_query_param(query, "filterValues", as->chunk);
	}
	if (as->bound_text[0])
		mkto_append_query_param(query, "earliestUpdatedAt", as->bound_text[0]);
	if (as->bound_text[1])
		mkto_append_query_param(query, "latestUpdatedAt", as->bound_text[1]);
}

/* A short page, or none ("No assets found"), ends the chunk. */
static json_object *
asset_records(MktoScan *scan, void *state, MktoResponse *resp)
{
	AssetState *as = state;

	as->page_full = !as->one_per_value && resp->result != NULL &&
		json_object_array_length(resp->result) >= MKTO_MAX_ASSETS;
	objects_as_text(scan, resp->result);
	return resp->result;
}

const MktoReadSource mkto_source_asset_filter = {
	.name = "asset filter",
	.method = "REST filter",
	.values_per_call = MKTO_MAX_ASSETS,
	.plan = asset_filter_plan,
	.describe = asset_filter_describe,
	.shown_request = asset_shown_request,
	.unfiltered_detail = asset_unfiltered_detail,
	.begin = asset_filter_begin,
	.rescan = asset_filter_rescan,
	.start_pass = asset_start_pass,
	.next_chunk = asset_filter_next_chunk,
	.request = asset_request,
	.records = asset_records,
};

const MktoReadSource mkto_source_asset_listing = {
	.name = "asset listing",
	.method = "REST listing",
	.reads_all = true,
	.plan = asset_listing_plan,
	.describe = asset_listing_describe,
	.shown_request = asset_shown_request,
	.unfiltered_detail = asset_unfiltered_detail,
	.begin = asset_listing_begin,
	.rescan = asset_listing_rescan,
	.start_pass = asset_start_pass,
	.next_chunk = asset_listing_next_chunk,
	.request = asset_request,
	.records = asset_records,
};

/* ---------------------------------------------------------------------
 * By parameter: the values as the query parameter named as their field
 * ---------------------------------------------------------------------
 */

/* The value goes in the path ("%s"), one a call, instead of a parameter. */
static bool
param_in_path(const MktoSourceUse *use)
{
	return strstr(use->path, "%s") != NULL;
}

static int
param_values_per_call(const MktoSourceUse *use)
{
	if (param_in_path(use))
		return 1;
	return use->values_per_call > 0 ? use->values_per_call : MKTO_MAX_FILTER_VALUES;
}

/* By the best filter, when the use takes its field (any, without one). */
static bool
by_param_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	if (!in->has_filter || in->filter.column == NULL ||
		(in->use->field && strcmp(in->filter.column->field, in->use->field) != 0))
		return false;
	return mkto_plan_values(in, out, param_values_per_call(in->use));
}

static char *
by_param_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	int			per_call = param_values_per_call(use);
	char	   *values = describe_values(private);

	if (param_in_path(use))
		return psprintf("%s in the path, %s, one call per value",
						strVal(linitial(private)), values);
	if (per_call == 1)
		return psprintf("parameter %s, %s, one call per value", strVal(linitial(private)), values);
	return psprintf("parameter %s, %s, %d a call", strVal(linitial(private)), values, per_call);
}

static char *
by_param_shown_request(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	if (use->field && !param_in_path(use))
		return psprintf("GET /rest%s?%s=...", use->path, use->field);
	return mkto_shown_get(use, obj);
}

static char *
by_param_unfiltered_detail(const MktoObjectDesc *obj)
{
	return psprintf("Marketo's REST API reads %s only by the values of a field.", obj->name);
}

static int64
by_param_rescan(MktoScan *scan, void *state)
{
	return mkto_rescan_values(scan, state, param_values_per_call(scan->use));
}

static bool
by_param_next_chunk(MktoScan *scan, void *state)
{
	MktoValuesState *vs = state;

	vs->chunk = mkto_values_chunk(vs->values, &vs->next_value,
								  param_values_per_call(scan->use));
	return vs->chunk != NULL;
}

static void
by_param_request(MktoScan *scan, void *state, MktoRequest *req,
				 StringInfo query, const char *page_token)
{
	MktoValuesState *vs = state;

	if (param_in_path(scan->use))
		req->path = mkto_path_with_key(scan->use->path, vs->chunk);
	else
	{
		req->path = scan->use->path;
		mkto_append_query_param(query, vs->field, vs->chunk);
	}
	if (scan->use->takes_fields)
		mkto_append_query_param(query, "fields", scan->fields_param);
	if (scan->use->paged)
		mkto_append_page_params(query, page_token);
}

static json_object *
by_param_records(MktoScan *scan, void *state, MktoResponse *resp)
{
	objects_as_text(scan, resp->result);
	return resp->result;
}

const MktoReadSource mkto_source_by_param = {
	.name = "by parameter",
	.method = "REST filter",
	.values_per_call = MKTO_MAX_FILTER_VALUES,
	.plan = by_param_plan,
	.describe = by_param_describe,
	.shown_request = by_param_shown_request,
	.unfiltered_detail = by_param_unfiltered_detail,
	.begin = mkto_begin_values,
	.rescan = by_param_rescan,
	.start_pass = mkto_values_start_pass,
	.next_chunk = by_param_next_chunk,
	.request = by_param_request,
	.save_chunk = mkto_values_save_chunk,
	.restore_chunk = mkto_values_restore_chunk,
	.records = by_param_records,
};

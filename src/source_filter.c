/*-------------------------------------------------------------------------
 *
 * source_filter.c
 *		  Read sources of Marketo's filtered query: filterType/filterValues
 *		  from a WHERE clause, in chunks of the filter limit; a range of a
 *		  date field as filterType with startAt/endAt windows; and every
 *		  record of a parent, as a boolean filter with both its values.
 *
 * Both read within the parent key where the object has one.  The values
 * planning here serves the by-key source too (source_browse.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "read_source.h"

/* ---------------------------------------------------------------------
 * Values from a WHERE clause
 * ---------------------------------------------------------------------
 */

static int
known_or_guessed(MktoFilterQual *filter)
{
	return filter->known_values < 0 ? MKTO_UNKNOWN_VALUES : filter->known_values;
}

/*
 * The plan of a read by the best filter's values, per_call a call.  Under
 * a LIMIT, the chunks are read one at a time, as the scan may stop after
 * the first: their first pages sent together would cost calls the query
 * does not need.
 */
bool
mkto_plan_values(MktoSourcePlanInput *in, MktoSourcePlan *out, int per_call)
{
	if (!in->has_filter)
		return false;
	out->exprs = list_make1(in->filter.value_expr);
	out->private = list_make4(makeString(in->filter.column->field),
							  makeInteger(in->filter.is_array),
							  makeInteger(in->filter.known_values),
							  makeInteger(in->root->limit_tuples > 0));
	out->calls = ceil((double) known_or_guessed(&in->filter) / per_call);
	out->estimated = in->filter.known_values < 0;
	return true;
}

void *
mkto_begin_values(MktoScan *scan, List *private, List *exprs)
{
	MktoValuesState *vs = palloc0(sizeof(MktoValuesState));
	Expr	   *expr = linitial(exprs);

	vs->field = strVal(linitial(private));
	vs->is_array = intVal(lsecond(private)) != 0;
	vs->chunk_at_a_time = intVal(lfourth(private)) != 0;
	vs->value_state = ExecInitExpr(expr, (PlanState *) scan->node);
	vs->value_type = exprType((Node *) expr);
	if (vs->is_array)
		vs->value_type = get_element_type(vs->value_type);
	return vs;
}

/* This run's values; the fewest calls a pass makes with them. */
int64
mkto_rescan_values(MktoScan *scan, MktoValuesState *vs, int per_call)
{
	vs->values = mkto_scan_values(scan, vs->value_state, vs->value_type,
								  vs->is_array, vs->field, per_call > 1);
	vs->next_value = 0;
	return (list_length(vs->values) + per_call - 1) / per_call;
}

void
mkto_values_start_pass(MktoScan *scan, void *state)
{
	((MktoValuesState *) state)->next_value = 0;
}

/* The chunk's values, read independently of the others' (not under LIMIT). */
void *
mkto_values_save_chunk(MktoScan *scan, void *state)
{
	MktoValuesState *vs = state;

	return vs->chunk_at_a_time ? NULL : pstrdup(vs->chunk);
}

void
mkto_values_restore_chunk(MktoScan *scan, void *state, void *chunk)
{
	((MktoValuesState *) state)->chunk = chunk;
}

/* "filterType=id, 2 values" */
static char *
describe_values(const char *prefix, List *private)
{
	char	   *field = strVal(linitial(private));
	bool		is_array = intVal(lsecond(private)) != 0;
	int			known = intVal(lthird(private));

	if (known >= 0)
		return psprintf("%s%s, %d value%s", prefix, field, known,
						known == 1 ? "" : "s");
	return psprintf("%s%s, values from %s", prefix, field,
					is_array ? "an array parameter" : "a parameter");
}

/*
 * A filtered query's page: filterType, then filterValues or a startAt/endAt
 * window, the fields, the page.
 */
void
mkto_filter_request(MktoScan *scan, const MktoSourceUse *use, const char *field,
					const char *values, char *const *window, MktoRequest *req,
					StringInfo query, const char *page_token)
{
	req->path = scan->parent_key ? mkto_path_with_key(use->path, scan->parent_key)
		: use->path;
	mkto_append_query_param(query, "filterType", field);
	if (window)
	{
		mkto_append_query_param(query, "startAt", window[0]);
		mkto_append_query_param(query, "endAt", window[1]);
	}
	else
		mkto_append_query_param(query, "filterValues", values);
	if (use->limit_hint)
	{
		req->hint_code = "1003";
		req->hint = use->limit_hint;
	}
	if (use->takes_fields)
		mkto_append_query_param(query, "fields", scan->fields_param);
	mkto_append_page_params(query, page_token);
}

char *
mkto_filter_unfiltered_detail(const MktoObjectDesc *obj)
{
	return psprintf("Marketo's REST API reads %s only by filterType/filterValues.",
					obj->name);
}

/* ---------------------------------------------------------------------
 * The filter source
 * ---------------------------------------------------------------------
 */

static bool
filter_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	return mkto_plan_values(in, out, MKTO_MAX_FILTER_VALUES);
}

static char *
filter_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return describe_values("filterType=", private);
}

static int64
filter_rescan(MktoScan *scan, void *state)
{
	return mkto_rescan_values(scan, state, MKTO_MAX_FILTER_VALUES);
}

static bool
filter_next_chunk(MktoScan *scan, void *state)
{
	MktoValuesState *vs = state;

	vs->chunk = mkto_values_chunk(vs->values, &vs->next_value, MKTO_MAX_FILTER_VALUES);
	return vs->chunk != NULL;
}

static void
filter_request(MktoScan *scan, void *state, MktoRequest *req,
			   StringInfo query, const char *page_token)
{
	MktoValuesState *vs = state;

	mkto_filter_request(scan, scan->use, vs->field, vs->chunk, NULL, req, query,
						page_token);
}

const MktoReadSource mkto_source_filter = {
	.name = "filter",
	.method = "REST filter",
	.values_per_call = MKTO_MAX_FILTER_VALUES,
	.plan = filter_plan,
	.describe = filter_describe,
	.shown_request = mkto_shown_get,
	.unfiltered_detail = mkto_filter_unfiltered_detail,
	.begin = mkto_begin_values,
	.rescan = filter_rescan,
	.start_pass = mkto_values_start_pass,
	.next_chunk = filter_next_chunk,
	.request = filter_request,
	.save_chunk = mkto_values_save_chunk,
	.restore_chunk = mkto_values_restore_chunk,
};

/* ---------------------------------------------------------------------
 * The range source: startAt/endAt windows of the use's field
 * ---------------------------------------------------------------------
 */

#define MKTO_RANGE_LOWER	1
#define MKTO_RANGE_UPPER	2

typedef struct RangeState
{
	ExprState  *lo_state;
	ExprState  *hi_state;
	TimestampTz range_start;
	TimestampTz range_end;
	TimestampTz window_start;
	bool		range_done;
	char	   *window_text[2]; /* startAt, endAt of the current window */
	/* an open start reads every record of the parent instead */
	bool		as_every;
	void	   *every;
} RangeState;

/* Whole days between two constant bounds, or -1 when not both known. */
static double
range_days(MktoRangeQual *bounds)
{
	Const	   *lo = IsA(bounds[0].value_expr, Const) ? (Const *) bounds[0].value_expr : NULL;
	Const	   *hi = bounds[1].value_expr && IsA(bounds[1].value_expr, Const)
		? (Const *) bounds[1].value_expr : NULL;

	if (lo == NULL || hi == NULL || lo->constisnull || hi->constisnull)
		return -1;
	return (double) (DatumGetTimestampTz(hi->constvalue) -
					 DatumGetTimestampTz(lo->constvalue)) / USECS_PER_DAY;
}

/* A range needs its start: Marketo has no open-ended one. */
static bool
range_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	MktoRangeQual bound[2] = {{0}}; /* lower, upper */
	int			bounds = 0;
	double		days;
	ListCell   *lc;

	if (!in->has_parent_key)
		return false;
	foreach(lc, in->scan_clauses)
	{
		MktoRangeQual range;

		if (!mkto_range_qual(in->root, in->baserel, in->opts, in->use->field,
							 lfirst_node(RestrictInfo, lc), &range))
			continue;
		if (range.is_lower && !(bounds & MKTO_RANGE_LOWER))
		{
			bound[0] = range;
			bounds |= MKTO_RANGE_LOWER;
		}
		else if (!range.is_lower && !(bounds & MKTO_RANGE_UPPER))
		{
			bound[1] = range;
			bounds |= MKTO_RANGE_UPPER;
		}
	}
	if (!(bounds & MKTO_RANGE_LOWER))
		return false;
	out->exprs = list_make1(bound[0].value_expr);
	if (bounds & MKTO_RANGE_UPPER)
		out->exprs = lappend(out->exprs, bound[1].value_expr);
	out->private = list_make1(makeInteger(bounds));
	/* an open or unknown range: assume a month */
	days = range_days(bound);
	out->calls = ceil((days >= 0 ? days : 30) / in->use->max_days);
	out->estimated = days < 0;
	return true;
}

static char *
range_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return psprintf("filterType=%s, startAt/endAt in windows of at most %d days",
					use->field, use->max_days);
}

static void *
range_begin(MktoScan *scan, List *private, List *exprs)
{
	RangeState *rs = palloc0(sizeof(RangeState));
	int			bounds = intVal(linitial(private));

	rs->lo_state = ExecInitExpr(linitial(exprs), (PlanState *) scan->node);
	if (bounds & MKTO_RANGE_UPPER)
		rs->hi_state = ExecInitExpr(lsecond(exprs), (PlanState *) scan->node);
	rs->every = mkto_source_every.begin(scan, NIL, NIL);
	return rs;
}

/*
 * The whole seconds the range covers: the start rounded down, the end up
 * (now when not given).  A NULL bound matches nothing: an empty range.
 */
static int64
range_rescan(MktoScan *scan, void *state)
{
	RangeState *rs = state;
	ExprContext *econtext = scan->node->ss.ps.ps_ExprContext;
	TimestampTz window = (TimestampTz) scan->use->max_days * USECS_PER_DAY;
	TimestampTz span;
	bool		lo_null;
	bool		hi_null = false;
	TimestampTz lo = DatumGetTimestampTz(ExecEvalExpr(rs->lo_state, econtext, &lo_null));
	TimestampTz hi = rs->hi_state
		? DatumGetTimestampTz(ExecEvalExpr(rs->hi_state, econtext, &hi_null))
		: GetCurrentTimestamp();

	rs->as_every = false;
	/* Nothing was updated in the future. */
	if (!hi_null && TIMESTAMP_IS_NOBEGIN(hi) == false && TIMESTAMP_NOT_FINITE(hi))
		hi = GetCurrentTimestamp();
	if (!lo_null && TIMESTAMP_IS_NOBEGIN(lo))
	{
		/* no start: read every record of the parent instead */
		rs->as_every = true;
		return mkto_source_every.rescan(scan, rs->every);
	}
	if (lo_null || hi_null || TIMESTAMP_NOT_FINITE(lo) || TIMESTAMP_NOT_FINITE(hi))
	{
		rs->range_start = 1;
		rs->range_end = 0;		/* empty */
	}
	else
	{
		rs->range_start = mkto_whole_second_down(lo);
		rs->range_end = mkto_whole_second_up(hi);
	}
	/* as range_next_chunk() cuts it */
	span = rs->range_end - rs->range_start;
	return span < 0 ? 0 : Max(1, (span + window - 1) / window);
}

static void
range_start_pass(MktoScan *scan, void *state)
{
	RangeState *rs = state;

	if (rs->as_every)
	{
		mkto_source_every.start_pass(scan, rs->every);
		return;
	}
	rs->window_start = rs->range_start;
	rs->range_done = false;
}

/* The next startAt/endAt window; false after the last. */
static bool
range_next_chunk(MktoScan *scan, void *state)
{
	RangeState *rs = state;
	TimestampTz window = (TimestampTz) scan->use->max_days * USECS_PER_DAY;
	TimestampTz end;

	if (rs->as_every)
		return mkto_source_every.next_chunk(scan, rs->every);
	if (rs->range_done || rs->window_start > rs->range_end)
		return false;
	end = rs->range_end - rs->window_start > window ? rs->window_start + window
		: rs->range_end;
	rs->window_text[0] = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(rs->window_start));
	rs->window_text[1] = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(end));
	/* Windows share their boundary second, in case endAt is exclusive. */
	rs->window_start = end;
	rs->range_done = end == rs->range_end;
	return true;
}

static void
range_request(MktoScan *scan, void *state, MktoRequest *req,
			  StringInfo query, const char *page_token)
{
	RangeState *rs = state;

	if (rs->as_every)
		mkto_source_every.request(scan, rs->every, req, query, page_token);
	else
		mkto_filter_request(scan, scan->use, scan->use->field, NULL, rs->window_text,
							req, query, page_token);
}

static json_object *
range_records(MktoScan *scan, void *state, MktoResponse *resp)
{
	RangeState *rs = state;

	if (rs->as_every)
		return mkto_source_every.records(scan, rs->every, resp);
	return resp->result;
}

const MktoReadSource mkto_source_range = {
	.name = "range",
	.method = "REST filter",
	.plan = range_plan,
	.describe = range_describe,
	.shown_request = mkto_shown_get,
	.unfiltered_detail = mkto_filter_unfiltered_detail,
	.begin = range_begin,
	.rescan = range_rescan,
	.start_pass = range_start_pass,
	.next_chunk = range_next_chunk,
	.request = range_request,
	.records = range_records,
};

/* ---------------------------------------------------------------------
 * The every-record source: a boolean filter with both its values
 *
 * Marketo queries only by filter, but a boolean searchable field with
 * filterValues=true,false matches every record of the parent: a page of
 * records a call, where listing the parent's ids first took two.
 * ---------------------------------------------------------------------
 */

#define MKTO_EVERY_VALUE	"true,false"

static bool
every_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	/* under a LIMIT, one program at a time */
	out->private = list_make1(makeInteger(in->root->limit_tuples > 0));
	out->calls = ceil((double) MKTO_ROWS_PER_PARENT / MKTO_PAGE_SIZE);
	out->estimated = true;
	return true;
}

static char *
every_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return psprintf("none: every record, as filterType=%s&filterValues=%s",
					use->field, MKTO_EVERY_VALUE);
}

/*
 * A pass is one chunk read page by page, as the browse source's.  Marketo
 * refuses the filter on programs above its member limit (1003); the pass
 * is then handed over to the object's bulk extract source, or else goes on
 * through its listing source, which that limit does not apply to (at 2
 * calls per 300 members).
 */
typedef struct EveryState
{
	void	   *browse;			/* the one chunk of the filtered read */
	void	   *listing;		/* the fallback's, or NULL without one */
	void	   *bulk;			/* the bulk extract fallback's, preferred */
	bool		listed;			/* this pass fell back */
	bool		pass_at_a_time; /* no passes read together (LIMIT) */
} EveryState;

#define MKTO_FILTER_LIMIT_CODE	"1003"

static void *
every_begin(MktoScan *scan, List *private, List *exprs)
{
	EveryState *es = palloc0(sizeof(EveryState));

	es->browse = mkto_source_browse.begin(scan, private, exprs);
	/* the range source's fallback has no plan of its own: one at a time */
	es->pass_at_a_time = private == NIL || intVal(linitial(private)) != 0;
	if (mkto_object_source(scan->opts->object, &mkto_source_bulk) != NULL)
		es->bulk = mkto_source_bulk.begin(scan, NIL, NIL);
	else if (mkto_listing_use(scan->opts->object) != NULL)
		es->listing = mkto_source_listing.begin(scan, NIL, NIL);
	return es;
}

static int64
every_rescan(MktoScan *scan, void *state)
{
	EveryState *es = state;

	if (es->listing)
		(void) mkto_source_listing.rescan(scan, es->listing);
	return mkto_source_browse.rescan(scan, es->browse);
}

static void
every_start_pass(MktoScan *scan, void *state)
{
	EveryState *es = state;

	es->listed = false;
	if (es->listing)
		mkto_source_listing.start_pass(scan, es->listing);
	mkto_source_browse.start_pass(scan, es->browse);
}

static bool
every_next_chunk(MktoScan *scan, void *state)
{
	EveryState *es = state;

	if (es->listed)
		return es->listing && mkto_source_listing.next_chunk(scan, es->listing);
	return mkto_source_browse.next_chunk(scan, es->browse);
}

/* The object's every use: the range source reads by it too. */
static void
every_request(MktoScan *scan, void *state, MktoRequest *req,
			  StringInfo query, const char *page_token)
{
	EveryState *es = state;
	const MktoSourceUse *use;

	if (es->listed)
	{
		Assert(es->listing);
		mkto_source_listing.request(scan, es->listing, req, query, page_token);
		return;
	}
	use = mkto_object_source(scan->opts->object, &mkto_source_every);
	mkto_filter_request(scan, use, use->field, MKTO_EVERY_VALUE, NULL,
						req, query, page_token);
	/* the limit answers the first page; the records() hook takes it */
	if ((es->listing || es->bulk) && page_token == NULL)
	{
		req->return_refusal = true;
		req->return_refusal_of = MKTO_FILTER_LIMIT_CODE;
	}
}

static json_object *
every_records(MktoScan *scan, void *state, MktoResponse *resp)
{
	EveryState *es = state;

	if (resp->refusal_code == NULL)
		return resp->result;
	ereport(DEBUG1,
			(errmsg_internal("marketo_fdw: program %s is over Marketo's filter limit (%s: %s); %s instead",
							 scan->parent_key ? scan->parent_key : "?",
							 resp->refusal_code, resp->refusal_message,
							 es->bulk ? "a bulk extract" : "listing its leads")));
	/* no records and no token: the chunk ends, and the fallback goes on */
	es->listed = true;
	if (es->bulk)
	{
		(void) mkto_source_bulk.rescan(scan, es->bulk);
		scan->rows_source = &mkto_source_bulk;
		scan->rows_state = es->bulk;
	}
	return NULL;
}

/*
 * A pass's one chunk, its filtered read, does not depend on another's: the
 * scan may send the first pages of several programs' passes together.  Not
 * once the pass has fallen back, nor under a LIMIT.
 */
static void *
every_save_chunk(MktoScan *scan, void *state)
{
	EveryState *es = state;

	if (es->pass_at_a_time || es->listed)
		return NULL;
	return palloc0(1);			/* nothing to keep but that it is this one */
}

static void
every_restore_chunk(MktoScan *scan, void *state, void *chunk)
{
	((EveryState *) state)->listed = false;
}

const MktoReadSource mkto_source_every = {
	.name = "every",
	.method = "REST listing",
	.plan = every_plan,
	.describe = every_describe,
	.shown_request = mkto_shown_get,
	.unfiltered_detail = mkto_filter_unfiltered_detail,
	.begin = every_begin,
	.rescan = every_rescan,
	.start_pass = every_start_pass,
	.next_chunk = every_next_chunk,
	.request = every_request,
	.save_chunk = every_save_chunk,
	.restore_chunk = every_restore_chunk,
	.records = every_records,
};

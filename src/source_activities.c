/*-------------------------------------------------------------------------
 *
 * source_activities.c
 *		  Read sources of the activity endpoints: activities.json,
 *		  activities/deletedleads.json and activities/leadchanges.json,
 *		  all read from a paging token for a start date.
 *
 * The lower bound of the date column becomes sinceDatetime (whole
 * seconds, rounded down): Marketo has no other way in, so a query without
 * one is refused at planning.  One paging token serves every chunk, and
 * every run from the same sinceDatetime (rescans): it names a position in
 * time, not a query.  Records come in date order,
 * so a chunk's paging ends at the first page whose last record is past
 * the upper bound.  A page that is short or empty with moreResult true
 * does not end it: only moreResult false does.  The bounds, like every
 * pushed condition, are rechecked locally.
 *
 * Chunks: activity types 10 a call and lead ids 30 a call (Marketo's
 * limits), each group of types with each group of leads.  Without a type
 * condition every type is read, its ids learnt from types.json once per
 * scan.  Lead changes send fields= from the condition on the fields
 * column (fields ? 'name' or ?| ARRAY[...]), which they require.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "read_source.h"

#define TYPES_PATH			"/v1/activities/types.json"
#define TYPE_FIELD			"activityTypeId"
#define LEAD_FIELD			"leadId"
#define CHANGES_FIELD		"fields"
#define TYPES_PER_CALL		10
#define LEADS_PER_CALL		30
/* Types an instance is assumed to have, for costing (types.json lists ~60). */
#define ASSUMED_TYPES		60
/*
 * Activities a lead or a type is assumed to have, for costing, before the
 * date range's selectivity: many, unlike a filter value of a record id,
 * so that a join reads a few leads' activities rather than list them all.
 */
#define ACTIVITIES_PER_VALUE	1000
/* Activities of a read by no lead, for costing it: a large instance's. */
#define ASSUMED_ACTIVITIES		1000000

/* What an endpoint takes besides the token. */
typedef enum ActivityKind
{
	KIND_ACTIVITIES,			/* activityTypeIds (required), leadIds */
	KIND_DELETED_LEADS,			/* nothing */
	KIND_LEAD_CHANGES			/* fields (required), leadIds */
} ActivityKind;

/* The facts of a plan, in this order in its private list and exprs. */
enum
{
	FACT_KIND,
	FACT_UPPER,					/* 0 none, 1 < (strict), 2 <= */
	FACT_TYPES,					/* each filter: -1 none, else is_array */
	FACT_TYPES_KNOWN,
	FACT_LEADS,
	FACT_LEADS_KNOWN,
	FACT_FIELDS,
	FACT_FIELDS_KNOWN
};

/* A condition's values: its expression, how many are known, array or not. */
typedef struct ValuesQual
{
	Expr	   *expr;
	bool		is_array;
	int			known;			/* -1 unknown */
} ValuesQual;

typedef struct ValuesRun
{
	ExprState  *state;
	Oid			type;			/* element type for arrays */
	bool		is_array;
	bool		given;
	List	   *values;			/* char *: this run's */
	int			next;
	char	   *chunk;			/* comma-joined values of the chunk */
} ValuesRun;

typedef struct ActivityState
{
	ActivityKind kind;
	ExprState  *lower_state;
	ExprState  *upper_state;
	bool		upper_strict;
	ValuesRun	types;
	ValuesRun	leads;
	ValuesRun	fields;
	MemoryContext state_cxt;	/* the scan's: what outlives a run */
	List	   *all_types;		/* char *: types.json's ids, once per scan */
	char	   *token_since;	/* the sinceDatetime token is for, or NULL */
	char	   *token;			/* the paging token, once asked */
	/* this run */
	char	   *since;			/* sinceDatetime; NULL: nothing matches */
	bool		has_upper;
	TimestampTz upper;
	bool		types_open;		/* a group of types is being read */
} ActivityState;

/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

static const char *
kind_noun(ActivityKind kind)
{
	return kind == KIND_DELETED_LEADS ? "deleted leads"
		: kind == KIND_LEAD_CHANGES ? "lead changes" : "activities";
}

static const char *
column_name(MktoTableOptions *opts, const char *field)
{
	MktoColumn *col = mkto_column_by_field(opts, field);

	return col ? col->attname : field;
}

/* The column of field that node is, or NULL. */
static MktoColumn *
field_column(MktoSourcePlanInput *in, Node *node, const char *field)
{
	Var		   *var = (Var *) node;
	MktoColumn *col;

	if (!IsA(node, Var) || var->varno != in->baserel->relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > in->opts->ncolumns)
		return NULL;
	col = &in->opts->columns[var->varattno - 1];
	return col->field && strcmp(col->field, field) == 0 ? col : NULL;
}

/* A value to send: not of this table's row, and stable. */
static bool
is_sendable_value(MktoSourcePlanInput *in, Node *value)
{
	return !bms_is_member(in->baserel->relid, pull_varnos(in->root, value)) &&
		!contain_volatile_functions(value);
}

/* "date_column = value": both bounds. */
static bool
date_equality(MktoSourcePlanInput *in, RestrictInfo *rinfo, Expr **value)
{
	OpExpr	   *op;
	char	   *opname;

	if (rinfo->pseudoconstant || !IsA(rinfo->clause, OpExpr))
		return false;
	op = (OpExpr *) rinfo->clause;
	opname = get_opname(op->opno);
	if (list_length(op->args) != 2 || opname == NULL || strcmp(opname, "=") != 0 ||
		get_op_btree_interpretation(op->opno) == NIL)
		return false;
	for (int i = 0; i < 2; i++)
	{
		MktoColumn *col = field_column(in, list_nth(op->args, i), in->use->field);
		Node	   *other = list_nth(op->args, 1 - i);

		if (col && col->typid == TIMESTAMPTZOID && exprType(other) == TIMESTAMPTZOID &&
			is_sendable_value(in, other))
		{
			*value = (Expr *) other;
			return true;
		}
	}
	return false;
}

/*
 * The condition of field's values: the planner's chosen filter when it is
 * on that field (a join's keys come first), else the first such clause.
 */
static bool
values_qual(MktoSourcePlanInput *in, const char *field, ValuesQual *out)
{
	ListCell   *lc;

	if (in->has_filter && strcmp(in->filter.column->field, field) == 0)
	{
		out->expr = in->filter.value_expr;
		out->is_array = in->filter.is_array;
		out->known = in->filter.known_values;
		return true;
	}
	foreach(lc, in->scan_clauses)
	{
		MktoFilterQual filter;

		if (mkto_filter_qual(in->root, in->baserel, in->opts, lfirst_node(RestrictInfo, lc),
							 &filter) &&
			strcmp(filter.column->field, field) == 0)
		{
			out->expr = filter.value_expr;
			out->is_array = filter.is_array;
			out->known = filter.known_values;
			return true;
		}
	}
	return false;
}

/* "fields ? 'name'" or "fields ?| ARRAY[...]": the field names to send. */
static bool
fields_qual(MktoSourcePlanInput *in, ValuesQual *out)
{
	ListCell   *lc;

	foreach(lc, in->scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		OpExpr	   *op = (OpExpr *) rinfo->clause;
		Node	   *value;

		if (rinfo->pseudoconstant || !IsA(op, OpExpr) || list_length(op->args) != 2 ||
			(op->opfuncid != F_JSONB_EXISTS && op->opfuncid != F_JSONB_EXISTS_ANY))
			continue;
		value = lsecond(op->args);
		if (!field_column(in, linitial(op->args), CHANGES_FIELD) ||
			!is_sendable_value(in, value))
			continue;
		out->expr = (Expr *) value;
		out->is_array = op->opfuncid == F_JSONB_EXISTS_ANY;
		out->known = !out->is_array ? 1 : -1;
		if (out->is_array && IsA(value, Const) && !((Const *) value)->constisnull)
		{
			ArrayType  *array = DatumGetArrayTypeP(((Const *) value)->constvalue);

			out->known = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
		}
		return true;
	}
	return false;
}

static void
refuse_unbounded(MktoSourcePlanInput *in, ActivityKind kind)
{
	const char *column = column_name(in->opts, in->use->field);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
			 errmsg("a scan of foreign table \"%s\" needs a lower bound on column \"%s\"",
					in->opts->relname, column),
			 errdetail("Marketo's REST API reads %s only from a start date on (sinceDatetime).",
					   kind_noun(kind)),
			 errhint("Add WHERE %s >= value (or >, = or BETWEEN).", column)));
}

static void
refuse_without_fields(MktoSourcePlanInput *in)
{
	const char *column = column_name(in->opts, CHANGES_FIELD);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
			 errmsg("a scan of foreign table \"%s\" needs the lead fields whose changes to read",
					in->opts->relname),
			 errdetail("Marketo's leadchanges.json requires the fields parameter."),
			 errhint("Add WHERE %s ?| ARRAY['email', ...] (or %s ? 'email'), naming lead fields by their REST names.",
					 column, column)));
}

static int
groups(int known, int guess, int per_call)
{
	return (int) ceil((double) (known < 0 ? guess : Max(known, 1)) / per_call);
}

/*
 * Plans any query with a lower bound on the date (a bulk source before
 * this one declines what it does not take); refuses one without.
 */
static bool
activity_plan_kind(MktoSourcePlanInput *in, MktoSourcePlan *out, ActivityKind kind)
{
	Expr	   *lower = NULL;
	Expr	   *upper = NULL;
	int			upper_mode = 0;
	ValuesQual	types = {0};
	ValuesQual	leads = {0};
	ValuesQual	fields = {0};
	bool		has_types = false;
	bool		has_leads = false;
	bool		has_fields = false;
	ListCell   *lc;
	List	   *facts = NIL;

	foreach(lc, in->scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		MktoRangeQual range;
		Expr	   *equal = NULL;

		if (mkto_range_qual(in->root, in->baserel, in->opts, in->use->field, rinfo, &range))
		{
			if (range.is_lower && lower == NULL)
				lower = range.value_expr;
			else if (!range.is_lower && upper == NULL)
			{
				char	   *opname = get_opname(((OpExpr *) rinfo->clause)->opno);

				upper = range.value_expr;
				upper_mode = strchr(opname, '=') ? 2 : 1;
			}
		}
		else if (date_equality(in, rinfo, &equal))
		{
			/* the one instant: both bounds, before any range */
			lower = upper = equal;
			upper_mode = 2;
			break;
		}
	}
	if (lower == NULL)
		refuse_unbounded(in, kind);
	if (kind == KIND_ACTIVITIES)
		has_types = values_qual(in, TYPE_FIELD, &types);
	if (kind != KIND_DELETED_LEADS)
		has_leads = values_qual(in, LEAD_FIELD, &leads);
	if (kind == KIND_LEAD_CHANGES && !(has_fields = fields_qual(in, &fields)))
		refuse_without_fields(in);

	out->exprs = list_make1(lower);
	if (upper)
		out->exprs = lappend(out->exprs, upper);
	if (has_types)
		out->exprs = lappend(out->exprs, types.expr);
	if (has_leads)
		out->exprs = lappend(out->exprs, leads.expr);
	if (has_fields)
		out->exprs = lappend(out->exprs, fields.expr);
	facts = list_make2(makeInteger(kind), makeInteger(upper_mode));
	facts = lappend(facts, makeInteger(has_types ? types.is_array : -1));
	facts = lappend(facts, makeInteger(has_types ? types.known : 0));
	facts = lappend(facts, makeInteger(has_leads ? leads.is_array : -1));
	facts = lappend(facts, makeInteger(has_leads ? leads.known : 0));
	facts = lappend(facts, makeInteger(has_fields ? fields.is_array : -1));
	facts = lappend(facts, makeInteger(has_fields ? fields.known : 0));
	out->private = facts;

	/* the token, then one page per chunk; types.json without types */
	out->calls = 1 +
		(kind == KIND_ACTIVITIES
		 ? groups(has_types ? types.known : -1, ASSUMED_TYPES, TYPES_PER_CALL) : 1) *
		(has_leads ? groups(leads.known, MKTO_UNKNOWN_VALUES, LEADS_PER_CALL) : 1) +
		(kind == KIND_ACTIVITIES && !has_types ? 1 : 0);
	/* pages of a date range are never known */
	out->estimated = true;
	return true;
}

static bool
activities_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	return activity_plan_kind(in, out, KIND_ACTIVITIES);
}

static bool
deleted_leads_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	return activity_plan_kind(in, out, KIND_DELETED_LEADS);
}

static bool
lead_changes_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	return activity_plan_kind(in, out, KIND_LEAD_CHANGES);
}

static int
fact(List *private, int which)
{
	return intVal(list_nth(private, which));
}

/* ", activityTypeIds 2 values" */
static void
describe_values(StringInfo buf, List *private, int which, const char *param, int per_call)
{
	int			mode = fact(private, which);
	int			known = fact(private, which + 1);

	if (mode < 0)
		return;
	if (known >= 0)
		appendStringInfo(buf, ", %s %d value%s", param, known, known == 1 ? "" : "s");
	else
		appendStringInfo(buf, ", %s from %s", param, mode ? "an array parameter" : "a parameter");
	if (per_call > 0)
		appendStringInfo(buf, " (%d a call)", per_call);
}

static char *
activity_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	StringInfoData buf;
	int			upper = fact(private, FACT_UPPER);

	initStringInfo(&buf);
	appendStringInfo(&buf, "sinceDatetime from the lower bound of %s", use->field);
	if (upper)
		appendStringInfoString(&buf, ", paging until past its upper bound");
	if (fact(private, FACT_KIND) == KIND_ACTIVITIES && fact(private, FACT_TYPES) < 0)
		appendStringInfo(&buf, ", activityTypeIds every type of types.json (%d a call)",
						 TYPES_PER_CALL);
	describe_values(&buf, private, FACT_TYPES, "activityTypeIds", TYPES_PER_CALL);
	describe_values(&buf, private, FACT_LEADS, "leadIds", LEADS_PER_CALL);
	describe_values(&buf, private, FACT_FIELDS, "fields", 0);
	return buf.data;
}

/*
 * Without a lead: a read of every activity in the range, priced as a
 * large one, so that a join reads by its leads instead.
 */
static double
activity_listing_rows(void)
{
	return ASSUMED_ACTIVITIES;
}

static double
activity_listing_calls(double rows)
{
	return 1 + ceil(rows / MKTO_PAGE_SIZE);
}

static char *
activity_shown_request(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	return psprintf("GET /rest%s, then GET /rest%s per page",
					MKTO_PAGING_TOKEN_PATH, use->path);
}

static char *
activity_unfiltered_detail(const MktoObjectDesc *obj)
{
	return psprintf("Marketo's REST API reads %s only from a start date on (sinceDatetime).",
					obj->name);
}

/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

static void
values_begin(MktoScan *scan, ValuesRun *run, List *private, int which,
			 List *exprs, int *next_expr)
{
	int			mode = fact(private, which);
	Expr	   *expr;

	run->given = mode >= 0;
	if (!run->given)
		return;
	expr = list_nth(exprs, (*next_expr)++);
	run->is_array = mode == 1;
	run->state = ExecInitExpr(expr, (PlanState *) scan->node);
	run->type = exprType((Node *) expr);
	if (run->is_array)
		run->type = get_element_type(run->type);
}

static void *
activity_begin(MktoScan *scan, List *private, List *exprs)
{
	ActivityState *as = palloc0(sizeof(ActivityState));
	int			next_expr = 1;

	as->kind = fact(private, FACT_KIND);
	as->state_cxt = CurrentMemoryContext;
	as->lower_state = ExecInitExpr(linitial(exprs), (PlanState *) scan->node);
	if (fact(private, FACT_UPPER))
	{
		as->upper_state = ExecInitExpr(list_nth(exprs, next_expr++), (PlanState *) scan->node);
		as->upper_strict = fact(private, FACT_UPPER) == 1;
	}
	values_begin(scan, &as->types, private, FACT_TYPES, exprs, &next_expr);
	values_begin(scan, &as->leads, private, FACT_LEADS, exprs, &next_expr);
	values_begin(scan, &as->fields, private, FACT_FIELDS, exprs, &next_expr);
	return as;
}

static TimestampTz
eval_time(MktoScan *scan, ExprState *state, bool *isnull)
{
	return DatumGetTimestampTz(ExecEvalExpr(state, scan->node->ss.ps.ps_ExprContext, isnull));
}

/* This run's values; false when the condition matches nothing. */
static bool
values_rescan(MktoScan *scan, ValuesRun *run, const char *field)
{
	if (!run->given)
		return true;
	run->values = mkto_scan_values(scan, run->state, run->type, run->is_array, field, true);
	run->next = 0;
	return run->values != NIL;
}

/*
 * This run's bounds and values.  A NULL or +infinity lower bound, or a
 * condition without values, matches nothing: no call.
 */
static int64
activity_rescan(MktoScan *scan, void *state)
{
	ActivityState *as = state;
	bool		isnull;
	TimestampTz since = eval_time(scan, as->lower_state, &isnull);

	as->since = NULL;
	as->has_upper = false;
	if (isnull || TIMESTAMP_IS_NOEND(since))
		return 0;
	if (as->upper_state)
	{
		as->upper = eval_time(scan, as->upper_state, &isnull);
		if (isnull)
			return 0;
		as->has_upper = !TIMESTAMP_IS_NOEND(as->upper);
	}
	if (!values_rescan(scan, &as->types, TYPE_FIELD) ||
		!values_rescan(scan, &as->leads, LEAD_FIELD) ||
		!values_rescan(scan, &as->fields, CHANGES_FIELD))
		return 0;
	/* whole seconds, rounded down: the recheck drops the excess */
	as->since = TIMESTAMP_IS_NOBEGIN(since) ? MKTO_EARLIEST_LEAD
		: mkto_datum_to_text(TIMESTAMPTZOID,
							 TimestampTzGetDatum(mkto_whole_second_down(since)));
	if (as->fields.given)
	{
		int			next = 0;

		/* every field in each call: they select records, not chunks */
		as->fields.chunk = mkto_values_chunk(as->fields.values, &next,
											 list_length(as->fields.values));
	}
	/* one page, and the paging token unless this start's is known */
	return as->token && strcmp(as->token_since, as->since) == 0 ? 1 : 2;
}

static void
activity_start_pass(MktoScan *scan, void *state)
{
	ActivityState *as = state;

	as->types.next = 0;
	as->leads.next = 0;
	as->types_open = false;
}

/* The ids of every activity type, from types.json, once per scan. */
static List *
all_type_ids(MktoScan *scan, ActivityState *as)
{
	MktoRequest req = {0};
	MktoResponse *resp;
	MemoryContext oldcxt;
	List	   *ids = NIL;

	if (as->all_types != NIL)
		return as->all_types;
	req.path = TYPES_PATH;
	resp = mkto_scan_read(scan, &req);
	oldcxt = MemoryContextSwitchTo(as->state_cxt);
	for (size_t i = 0; resp->result && i < json_object_array_length(resp->result); i++)
	{
		json_object *type = json_object_array_get_idx(resp->result, i);
		json_object *id;

		if (!json_object_is_type(type, json_type_object) ||
			!json_object_object_get_ex(type, "id", &id) ||
			!json_object_is_type(id, json_type_int))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo: an activity type without an integer id"),
					 errdetail("Request: GET /rest%s.", req.path)));
		ids = lappend(ids, pstrdup(json_object_get_string(id)));
	}
	MemoryContextSwitchTo(oldcxt);
	if (ids == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo lists no activity types"),
				 errdetail("Request: GET /rest%s.", req.path)));
	as->all_types = ids;
	return ids;
}

/*
 * The next chunk: the next group of leads with the current group of
 * types, else the first group of leads with the next group of types.
 * Endpoints without types have one group of them, no chunk.
 */
static bool
activity_next_chunk(MktoScan *scan, void *state)
{
	ActivityState *as = state;

	if (as->since == NULL)
		return false;
	for (;;)
	{
		if (as->types_open)
		{
			if (as->leads.given)
			{
				as->leads.chunk = mkto_values_chunk(as->leads.values, &as->leads.next,
													LEADS_PER_CALL);
				if (as->leads.chunk)
					return true;
			}
			else if (as->leads.next++ == 0)
				return true;
			as->types_open = false;
		}
		if (as->kind == KIND_ACTIVITIES)
		{
			List	   *types = as->types.given ? as->types.values : all_type_ids(scan, as);
			MemoryContext oldcxt = MemoryContextSwitchTo(scan->scan_cxt);

			/* for the group's chunks: chunk_cxt goes per chunk */
			as->types.chunk = mkto_values_chunk(types, &as->types.next, TYPES_PER_CALL);
			MemoryContextSwitchTo(oldcxt);
			if (as->types.chunk == NULL)
				return false;
		}
		else if (as->types.next++ > 0)
			return false;
		as->types_open = true;
		as->leads.next = 0;
	}
}

static void
activity_request(MktoScan *scan, void *state, MktoRequest *req,
				 StringInfo query, const char *page_token)
{
	ActivityState *as = state;

	if (as->token == NULL || strcmp(as->token_since, as->since) != 0)
	{
		as->token = mkto_activity_paging_token(scan, as->since, as->state_cxt);
		as->token_since = MemoryContextStrdup(as->state_cxt, as->since);
	}
	req->path = scan->use->path;
	if (as->types.chunk && as->kind == KIND_ACTIVITIES)
		mkto_append_query_param(query, "activityTypeIds", as->types.chunk);
	if (as->leads.chunk)
		mkto_append_query_param(query, "leadIds", as->leads.chunk);
	if (as->fields.given)
		mkto_append_query_param(query, "fields", as->fields.chunk);
	mkto_append_page_params(query, page_token ? page_token : as->token);
}

/* Is the record's date past the upper bound? */
static bool
past_upper(ActivityState *as, json_object *record, const char *field)
{
	json_object *date;
	TimestampTz t;

	if (!json_object_object_get_ex(record, field, &date) ||
		!json_object_is_type(date, json_type_string))
		return false;
	t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												CStringGetDatum(json_object_get_string(date)),
												ObjectIdGetDatum(InvalidOid),
												Int32GetDatum(-1)));
	return as->upper_strict ? t >= as->upper : t > as->upper;
}

/*
 * The page's records, their compound values as the columns take them.
 * Past the upper bound the chunk's paging ends: this page is its last.
 */
static json_object *
activity_records(MktoScan *scan, void *state, MktoResponse *resp)
{
	ActivityState *as = state;
	size_t		n = resp->result ? json_object_array_length(resp->result) : 0;

	for (size_t i = 0; i < n; i++)
		mkto_activity_record_values(scan->opts->object,
									json_object_array_get_idx(resp->result, i));
	if (as->has_upper && n > 0 &&
		past_upper(as, json_object_array_get_idx(resp->result, n - 1), scan->use->field))
	{
		resp->more_result = false;
		resp->more_result_given = true;
	}
	return resp->result;
}

/* What the three endpoints' sources share. */
#define ACTIVITY_SOURCE_CALLBACKS \
	.method = "REST paging token", \
	.describe = activity_describe, \
	.shown_request = activity_shown_request, \
	.unfiltered_detail = activity_unfiltered_detail, \
	.begin = activity_begin, \
	.rescan = activity_rescan, \
	.start_pass = activity_start_pass, \
	.next_chunk = activity_next_chunk, \
	.request = activity_request, \
	.records = activity_records

/* Those with leadIds are priced by them (a join reads by its leads). */
#define PRICED_BY_LEADS \
	.values_per_call = LEADS_PER_CALL, \
	.rows_per_value = ACTIVITIES_PER_VALUE, \
	.listing_rows = activity_listing_rows, \
	.listing_calls = activity_listing_calls

const MktoReadSource mkto_source_activities = {
	.name = "activities",
	.plan = activities_plan,
	PRICED_BY_LEADS,
	ACTIVITY_SOURCE_CALLBACKS,
};

const MktoReadSource mkto_source_deleted_leads = {
	.name = "deleted leads",
	.reads_all = true,
	.plan = deleted_leads_plan,
	ACTIVITY_SOURCE_CALLBACKS,
};

const MktoReadSource mkto_source_lead_changes = {
	.name = "lead changes",
	.plan = lead_changes_plan,
	PRICED_BY_LEADS,
	ACTIVITY_SOURCE_CALLBACKS,
};

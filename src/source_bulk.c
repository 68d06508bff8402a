/*-------------------------------------------------------------------------
 *
 * source_bulk.c
 *		  Read source through Marketo's bulk extract: export jobs whose CSV
 *		  files are streamed into tuples as they download.  Leads are read
 *		  in createdAt (or updatedAt) windows of at most 31 days; program
 *		  members by program, 10 programs a job; activities in createdAt
 *		  windows of their activity date, by type.
 *
 * It reads what the REST API cannot list cheaply: every lead, or those of
 * a created_at/updated_at range.  The windows cover the range exactly, in
 * whole seconds, both ends inclusive; an open start is the instance's
 * first lead, found from the first New Lead activity.  Each window is one
 * job: create, enqueue, status polls no faster than
 * marketo_fdw.bulk_poll_interval, then the file.  Two jobs are kept in
 * flight (Marketo processes two at once), so the next one runs while this
 * one is read.  A lead has one createdAt and one latest update, so the
 * windows never return a lead twice, and no repeat filter (whose memory
 * would grow with the table) is needed.  The local recheck keeps the
 * answer exact.
 *
 * Program members (the use's field is "programId") are read by bulk
 * extract where REST cannot: a program over Marketo's 100,000-member
 * filter limit (the every source hands its pass over), and every program
 * when the query names none, the program ids then listed by the asset API.
 *
 * Activities (the use's field is "activityDate") are read by bulk extract
 * when REST would take many calls: no lead filter (the REST read takes 30
 * leads a call, and the extract none) and a date range longer than
 * marketo_fdw.activities_bulk_days, or read_method 'bulk'.  The range's
 * lower bound is required, as by REST; activity_type_id = / IN is sent as
 * activityTypeIds.  An activity has one date, so again no repeat filter.
 *
 * Custom objects (the use's field is "updatedAt") have no REST listing, so
 * a read without a usable filter is a bulk extract.  Their export takes no
 * createdAt filter: the windows are on updatedAt, from the query's
 * updated_at bounds; an open start is again the first lead's creation,
 * since every record exported is linked to a lead, created after it, and
 * updated no earlier than created.  A created_at bound is only rechecked.
 * A subscription without the updatedAt filter (1035) cannot read them
 * whole at all: that is an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "bulk_csv.h"
#include "bulk_jobs.h"
#include "mkto_bulk.h"
#include "mkto_limiter.h"
#include "mkto_stream.h"
#include "read_source.h"

#define PROGRAM_FIELD			"programId"
/* Marketo's limit of programIds per program member job */
#define PROGRAMS_PER_JOB		10
#define PROGRAM_LISTING_PATH	"/asset/v1/programs.json"
#define PROGRAM_LISTING_PAGE	200
#define WINDOW_DAYS				31
/* A window is 31 days less a second: both its ends are inclusive. */
#define WINDOW_USECS			((int64) WINDOW_DAYS * USECS_PER_DAY - USECS_PER_SEC)
/* Marketo processes two export jobs at once per instance. */
#define JOBS_IN_FLIGHT			2
/* create, enqueue, a status poll, the file */
#define CALLS_PER_JOB			4
/* planning an open start: three years of leads */
#define ASSUMED_WINDOWS			36
#define CREATED_FIELD			"createdAt"
#define UPDATED_FIELD			"updatedAt"
#define NO_UPDATED_FILTER_CODE	"1035"
/* activities: the field the windows bound, and the type filter's */
#define ACTIVITY_DATE_FIELD		"activityDate"
#define ACTIVITY_TYPE_FIELD		"activityTypeId"
#define ACTIVITY_LEAD_FIELD		"leadId"
/* Marketo cannot extract Delete Lead activities (deleted_leads reads them). */
#define DELETE_LEAD_TYPE		37
/* The largest LIMIT read over REST rather than by extract, as for leads. */
#define ACTIVITIES_REST_MAX_LIMIT	10000
/* empty activity pages in a row before the instance is taken as empty */
#define MAX_EMPTY_PAGES			50

/* GUCs */
static int	bulk_poll_interval_ms = 60000;
static bool bulk_progress = true;
static int	max_export_kb = 256 * 1024;
static int	activities_bulk_days = 7;

typedef struct BulkJobRun
{
	MktoBulkJob *job;
	int			number;			/* 1, 2, ... in this scan */
	char	   *label;			/* what it exports, for progress */
	bool		enqueued;
	bool		told_queue_full;
	TimestampTz last_poll;		/* or its enqueueing */
	MktoStream *stream;			/* its file, once Completed and opened */
	MemoryContext cxt;			/* the job, its stream and reader */
} BulkJobRun;

typedef struct BulkState
{
	MktoScan   *scan;			/* for the reader's callback */
	const MktoSourceUse *use;	/* the object's bulk use */
	bool		by_program;		/* program member jobs, else windows */
	const char *field;			/* the windows' filter field */
	ExprState  *lo_state;		/* or NULL: from the first lead */
	ExprState  *hi_state;		/* or NULL: to now */
	ExprState  *types_state;	/* activities: activityTypeIds, or NULL */
	bool		types_is_array;
	Oid			types_type;		/* element type for arrays */
	char	   *fields_json;	/* the "fields" member of every job */

	/* this run */
	TimestampTz next_start;		/* of the next window to create */
	TimestampTz range_end;
	bool		empty;			/* nothing to read */
	bool		started;		/* the range is known */
	List	   *program_ids;	/* by program: char *, this run's */
	int			next_program;
	char	   *types_json;		/* activities: ",\"activityTypeIds\":[…]", or "" */
	BulkJobRun *runs[JOBS_IN_FLIGHT];	/* [0] is read next */
	int			nruns;
	int			jobs_made;
	uint64		rows;
	MktoStream *stream;			/* of runs[0], once Completed */
	MktoCsvReader *reader;
	Datum	   *values;			/* per requested field */
	bool	   *nulls;
} BulkState;


/* --- planning -------------------------------------------------------------- */

static bool
const_timestamp(PlannerInfo *root, Expr *expr, TimestampTz *out)
{
	Node	   *value = estimate_expression_value(root, (Node *) expr);

	if (!IsA(value, Const) || ((Const *) value)->constisnull)
		return false;
	*out = DatumGetTimestampTz(((Const *) value)->constvalue);
	return !TIMESTAMP_NOT_FINITE(*out);
}

static double
windows_between(TimestampTz lo, TimestampTz hi)
{
	return hi < lo ? 0 : ceil((double) (hi - lo + 1) / (WINDOW_USECS + USECS_PER_SEC));
}

static bool
is_activity_use(const MktoSourceUse *use)
{
	return use->field && strcmp(use->field, ACTIVITY_DATE_FIELD) == 0;
}

static bool
is_custom_object_use(const MktoSourceUse *use)
{
	return use->field && strcmp(use->field, UPDATED_FIELD) == 0;
}

/*
 * Whether the type filter's values, if known now, hold Delete Lead; a
 * value known only at execution is checked then.
 */
static bool
types_hold_delete_lead(PlannerInfo *root, MktoFilterQual *types)
{
	Node	   *value = estimate_expression_value(root, (Node *) types->value_expr);
	Const	   *c;

	if (!IsA(value, Const) || ((Const *) value)->constisnull)
		return false;
	c = (Const *) value;
	if (types->is_array)
	{
		Oid			elemtype = get_element_type(c->consttype);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(c->constvalue), elemtype, typlen,
						  typbyval, typalign, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i] &&
				strcmp(mkto_datum_to_text(elemtype, elems[i]), CppAsString2(DELETE_LEAD_TYPE)) == 0)
				return true;
		return false;
	}
	return strcmp(mkto_datum_to_text(c->consttype, c->constvalue),
				  CppAsString2(DELETE_LEAD_TYPE)) == 0;
}

static void
refuse_delete_lead(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("Marketo's bulk activity extract cannot read Delete Lead activities (activity type %d)",
					DELETE_LEAD_TYPE),
			 errhint("Read them over REST (the table option read_method 'rest'), or query the deleted_leads table.")));
}

/*
 * Activities: createdAt windows from the activity_date range, with the
 * types' filter.  Declines where REST reads better: a lead filter, no
 * lower bound (REST then refuses the query), read_method 'rest'; and, with
 * read_method 'auto', a range of at most marketo_fdw.activities_bulk_days
 * or not known at planning, a LIMIT of this table alone, or Delete Lead
 * among the types.
 */
static bool
bulk_plan_activities(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	MktoRangeQual bound[2] = {{0}};	/* lower, upper */
	bool		has_bound[2] = {false, false};
	MktoFilterQual types = {0};
	bool		has_types = false;
	bool		other_clauses = false;
	bool		automatic = in->opts->read_method == MKTO_READ_AUTO;
	TimestampTz lo_value,
				hi_value = GetCurrentTimestamp();
	bool		range_known;
	ListCell   *lc;

	foreach(lc, in->scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		MktoFilterQual filter;
		MktoRangeQual range;

		if (mkto_filter_qual(in->root, in->baserel, in->opts, rinfo, &filter))
		{
			/* the extract has no lead filter: REST reads 30 leads a call */
			if (strcmp(filter.column->field, ACTIVITY_LEAD_FIELD) == 0)
				return false;
			if (strcmp(filter.column->field, ACTIVITY_TYPE_FIELD) == 0 && !has_types)
			{
				types = filter;
				has_types = true;
				continue;
			}
		}
		else if (mkto_range_qual(in->root, in->baserel, in->opts, ACTIVITY_DATE_FIELD,
								 rinfo, &range) && !has_bound[range.is_lower ? 0 : 1])
		{
			bound[range.is_lower ? 0 : 1] = range;
			has_bound[range.is_lower ? 0 : 1] = true;
			continue;
		}
		other_clauses = true;
	}
	if (!has_bound[0])
		return false;
	if (has_types && types_hold_delete_lead(in->root, &types))
	{
		if (automatic)
			return false;
		refuse_delete_lead();
	}
	range_known = const_timestamp(in->root, bound[0].value_expr, &lo_value) &&
		(!has_bound[1] || const_timestamp(in->root, bound[1].value_expr, &hi_value));
	if (automatic)
	{
		/* a preview: REST's first page answers it at once */
		if (in->limit_rows > 0 && in->limit_rows <= ACTIVITIES_REST_MAX_LIMIT && !other_clauses)
			return false;
		if (!range_known ||
			(double) (hi_value - lo_value) <= (double) activities_bulk_days * USECS_PER_DAY)
			return false;
	}

	out->private = list_make3(makeString(CREATED_FIELD), makeInteger(1),
							  makeInteger(has_bound[1]));
	out->exprs = list_make1(bound[0].value_expr);
	if (has_bound[1])
		out->exprs = lappend(out->exprs, bound[1].value_expr);
	out->calls = range_known ? Max(1, windows_between(lo_value, hi_value)) * CALLS_PER_JOB
		: ASSUMED_WINDOWS * CALLS_PER_JOB;
	out->estimated = true;		/* the polls depend on Marketo */
	out->private = lappend(out->private, makeFloat(psprintf("%.0f", out->calls)));
	/* the types: whether given, as an array, how many known */
	out->private = lappend(out->private, makeInteger(has_types));
	out->private = lappend(out->private, makeInteger(has_types && types.is_array));
	out->private = lappend(out->private, makeInteger(has_types ? types.known_values : 0));
	out->private = lappend(out->private, makeInteger(range_known));
	if (has_types)
		out->exprs = lappend(out->exprs, types.value_expr);
	return true;
}

/*
 * The windows' field and bounds: a created_at bound, else an updated_at
 * lower bound (Marketo's updatedAt filter), else an updated_at upper bound
 * as the createdAt one (no lead is updated before it is created).  Custom
 * objects: the updated_at bounds, Marketo's only date filter for them.
 */
static bool
bulk_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	MktoRangeQual created[2] = {{0}};	/* lower, upper */
	MktoRangeQual updated[2] = {{0}};
	bool		has_created[2] = {false, false};
	bool		has_updated[2] = {false, false};
	bool		custom = is_custom_object_use(in->use);
	const char *field = custom ? UPDATED_FIELD : CREATED_FIELD;
	Expr	   *lo = NULL;
	Expr	   *hi = NULL;
	TimestampTz lo_value = 0,
				hi_value = 0;
	ListCell   *lc;

	if (in->has_parent_key || in->opts->read_method == MKTO_READ_REST)
		return false;
	if (in->use->field && strcmp(in->use->field, PROGRAM_FIELD) == 0)
	{
		/* every program: its listing, then a job per 10 programs */
		out->private = list_make3(makeString(PROGRAM_FIELD), makeInteger(0), makeInteger(0));
		out->calls = 2 + ceil((double) MKTO_UNKNOWN_VALUES / PROGRAMS_PER_JOB) * CALLS_PER_JOB;
		out->estimated = true;
		out->private = lappend(out->private, makeFloat(psprintf("%.0f", out->calls)));
		return true;
	}
	if (is_activity_use(in->use))
		return bulk_plan_activities(in, out);
	if (in->has_filter)
		return false;
	foreach(lc, in->scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		MktoRangeQual range;

		if (!custom &&
			mkto_range_qual(in->root, in->baserel, in->opts, CREATED_FIELD, rinfo, &range) &&
			!has_created[range.is_lower ? 0 : 1])
		{
			created[range.is_lower ? 0 : 1] = range;
			has_created[range.is_lower ? 0 : 1] = true;
		}
		else if (mkto_range_qual(in->root, in->baserel, in->opts, UPDATED_FIELD, rinfo, &range) &&
				 !has_updated[range.is_lower ? 0 : 1])
		{
			updated[range.is_lower ? 0 : 1] = range;
			has_updated[range.is_lower ? 0 : 1] = true;
		}
	}
	if (has_created[0] || has_created[1])
	{
		lo = has_created[0] ? created[0].value_expr : NULL;
		hi = has_created[1] ? created[1].value_expr : NULL;
	}
	else if (has_updated[0] || custom)
	{
		field = UPDATED_FIELD;
		lo = has_updated[0] ? updated[0].value_expr : NULL;
		hi = has_updated[1] ? updated[1].value_expr : NULL;
	}
	else if (has_updated[1])
		hi = updated[1].value_expr;

	out->private = list_make3(makeString((char *) field),
							  makeInteger(lo != NULL), makeInteger(hi != NULL));
	if (lo)
		out->exprs = lappend(out->exprs, lo);
	if (hi)
		out->exprs = lappend(out->exprs, hi);

	/* the windows, when the bounds are known now */
	if (!hi)
		hi_value = GetCurrentTimestamp();
	if (lo && const_timestamp(in->root, lo, &lo_value) &&
		(!hi || const_timestamp(in->root, hi, &hi_value)))
	{
		out->calls = Max(1, windows_between(lo_value, hi_value)) * CALLS_PER_JOB;
		out->estimated = true;	/* the polls depend on Marketo */
	}
	else
	{
		out->calls = 2 + ASSUMED_WINDOWS * CALLS_PER_JOB;
		out->estimated = true;
	}
	out->private = lappend(out->private, makeFloat(psprintf("%.0f", out->calls)));
	return true;
}

static char *
bulk_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	const char *field = strVal(linitial(private));
	bool		has_lo = intVal(lsecond(private)) != 0;
	bool		has_hi = intVal(lthird(private)) != 0;
	double		calls = floatVal(lfourth(private));

	if (strcmp(field, PROGRAM_FIELD) == 0)
		return psprintf("none: bulk %s extract of every program (asset API program listing), %d programs a job",
						obj->name, PROGRAMS_PER_JOB);
	if (is_activity_use(use))
	{
		bool		has_types = intVal(list_nth(private, 4)) != 0;
		bool		types_array = intVal(list_nth(private, 5)) != 0;
		int			known = intVal(list_nth(private, 6));
		char	   *types;

		if (!has_types)
			types = psprintf("every activity type but Delete Lead (%d)", DELETE_LEAD_TYPE);
		else if (known >= 0)
			types = psprintf("activityTypeIds=%s, %d value%s", ACTIVITY_TYPE_FIELD, known,
							 known == 1 ? "" : "s");
		else
			types = psprintf("activityTypeIds=%s, values from %s", ACTIVITY_TYPE_FIELD,
							 types_array ? "an array parameter" : "a parameter");
		return psprintf("bulk activity extract, %s windows of at most %d days on %s, from the lower bound to %s (%s); %s",
						field, WINDOW_DAYS, ACTIVITY_DATE_FIELD,
						has_hi ? "the upper bound" : "now",
						intVal(list_nth(private, 7)) ?
						psprintf("%.0f job%s", calls / CALLS_PER_JOB,
								 calls == CALLS_PER_JOB ? "" : "s")
						: "one job per window", types);
	}
	return psprintf("none: bulk %s extract, %s windows of at most %d days, from %s to %s (%s)",
					is_custom_object_use(use) ? "custom object" : "lead",
					field, WINDOW_DAYS,
					has_lo ? "the lower bound" :
					is_custom_object_use(use) ? "the first lead's creation (first New Lead activity)"
					: "the first lead (first New Lead activity)",
					has_hi ? "the upper bound" : "now",
					has_lo ? psprintf("%.0f job%s", calls / CALLS_PER_JOB,
									  calls == CALLS_PER_JOB ? "" : "s")
					: "one job per window");
}

/* Activities are read from a start date, by REST as by extract. */
static char *
bulk_unfiltered_detail(const MktoObjectDesc *obj)
{
	const MktoSourceUse *use = mkto_object_source(obj, &mkto_source_bulk);

	if (use && is_activity_use(use))
		return psprintf("Marketo reads %s only from a start date: a lower bound on %s.",
						obj->name, ACTIVITY_DATE_FIELD);
	return mkto_filter_unfiltered_detail(obj);
}

static char *
bulk_shown_request(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	return psprintf("POST %s/create.json, POST …/enqueue.json, GET …/status.json, GET …/file.json per job",
					use->path);
}


/* --- execution ------------------------------------------------------------- */

static void *
bulk_begin(MktoScan *scan, List *private, List *exprs)
{
	BulkState  *bs = palloc0(sizeof(BulkState));
	int			next = 0;
	json_object *fields = mkto_track_json(json_object_new_array());
	ListCell   *lc;

	bs->scan = scan;
	bs->use = mkto_object_source(scan->opts->object, &mkto_source_bulk);
	bs->by_program = bs->use->field && strcmp(bs->use->field, PROGRAM_FIELD) == 0;
	bs->field = private ? strVal(linitial(private)) : PROGRAM_FIELD;
	if (private && intVal(lsecond(private)))
		bs->lo_state = ExecInitExpr(list_nth(exprs, next++), (PlanState *) scan->node);
	if (private && intVal(lthird(private)))
		bs->hi_state = ExecInitExpr(list_nth(exprs, next++), (PlanState *) scan->node);
	if (is_activity_use(bs->use) && intVal(list_nth(private, 4)))
	{
		Expr	   *types = list_nth(exprs, next++);

		bs->types_state = ExecInitExpr(types, (PlanState *) scan->node);
		bs->types_is_array = intVal(list_nth(private, 5)) != 0;
		bs->types_type = exprType((Node *) types);
		if (bs->types_is_array)
			bs->types_type = get_element_type(bs->types_type);
	}
	foreach(lc, scan->fields)
		json_object_array_add(fields, json_object_new_string(strVal(lfirst(lc))));
	bs->fields_json = pstrdup(json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN));
	bs->types_json = "";
	bs->values = palloc(sizeof(Datum) * list_length(scan->fields));
	bs->nulls = palloc(sizeof(bool) * list_length(scan->fields));
	return bs;
}

static void
progress(BulkState *bs, BulkJobRun *run, const char *what)
{
	if (!bulk_progress)
		return;
	ereport(NOTICE,
			(errmsg("Marketo export job %d (%s): %s", run->number, run->label, what)));
}

/* Lets go of the runs' jobs: cancels those Marketo may still work on. */
static void
end_runs(MktoScan *scan, BulkState *bs)
{
	bs->reader = NULL;
	bs->stream = NULL;
	for (int i = 0; i < bs->nruns; i++)
	{
		BulkJobRun *run = bs->runs[i];

		if (mkto_bulk_job_ended(run->job))
			mkto_bulk_jobs_forget(run->job);
		else
			mkto_bulk_jobs_cancel(scan->client, run->job);
		MemoryContextDelete(run->cxt);
	}
	bs->nruns = 0;
}

static void
bulk_end(MktoScan *scan, void *state)
{
	end_runs(scan, (BulkState *) state);
}

static TimestampTz
parse_timestamp(const char *text)
{
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
}

/*
 * When the instance's first lead was created: the date of its first New
 * Lead activity.  False when there is none: no lead at all.
 */
static bool
first_lead_time(MktoScan *scan, TimestampTz *out)
{
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;
	char	   *token;

	token = mkto_activity_paging_token(scan, MKTO_EARLIEST_LEAD, CurrentMemoryContext);
	initStringInfo(&query);

	/* a page can be empty with moreResult true: page on */
	for (int empty = 0; empty < MAX_EMPTY_PAGES; empty++)
	{
		json_object *first;
		json_object *date;

		resetStringInfo(&query);
		mkto_append_query_param(&query, "activityTypeIds", MKTO_NEW_LEAD_ACTIVITY);
		mkto_append_query_param(&query, "batchSize", "1");
		mkto_append_query_param(&query, "nextPageToken", token);
		req = (MktoRequest) {0};
		req.path = MKTO_ACTIVITIES_PATH;
		req.query = query.data;
		resp = mkto_scan_read(scan, &req);
		if (resp->result && json_object_array_length(resp->result) > 0)
		{
			first = json_object_array_get_idx(resp->result, 0);
			if (!json_object_is_type(first, json_type_object) ||
				!json_object_object_get_ex(first, "activityDate", &date) ||
				!json_object_is_type(date, json_type_string))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("malformed response from Marketo: an activity without activityDate"),
						 errdetail("Request: GET /rest%s.", MKTO_ACTIVITIES_PATH)));
			*out = mkto_whole_second_down(parse_timestamp(json_object_get_string(date)));
			return true;
		}
		token = mkto_page_token(resp, MKTO_ACTIVITIES_PATH, token, CurrentMemoryContext);
		if (token == NULL)
			return false;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Marketo returned %d empty pages of New Lead activities in a row",
					MAX_EMPTY_PAGES),
			 errhint("Add a lower bound on created_at to the query.")));
	return false;				/* keep compiler quiet */
}

static TimestampTz
eval_bound(MktoScan *scan, ExprState *state, bool *isnull)
{
	return DatumGetTimestampTz(ExecEvalExpr(state, scan->node->ss.ps.ps_ExprContext, isnull));
}

/*
 * This run's activity types, as the jobs' activityTypeIds member; false
 * when there is none (= NULL, an empty array).  A value that is no
 * integer matches no type, so is left out.
 */
static bool
take_types(MktoScan *scan, BulkState *bs)
{
	List	   *values = mkto_scan_values(scan, bs->types_state, bs->types_type,
										  bs->types_is_array, ACTIVITY_TYPE_FIELD, false);
	StringInfoData ids;
	int			n = 0;
	ListCell   *lc;

	initStringInfo(&ids);
	foreach(lc, values)
	{
		char	   *value = lfirst(lc);
		char	   *end;
		long		id;

		errno = 0;
		id = strtol(value, &end, 10);
		if (errno != 0 || *end != '\0' || id <= 0 || id > PG_INT32_MAX)
			continue;
		if (id == DELETE_LEAD_TYPE)
			refuse_delete_lead();
		appendStringInfo(&ids, "%s%ld", n++ > 0 ? "," : "", id);
	}
	if (n == 0)
		return false;
	bs->types_json = MemoryContextStrdup(scan->scan_cxt,
										 psprintf(",\"activityTypeIds\":[%s]", ids.data));
	return true;
}

/*
 * This run's range, in whole seconds: the start down, the end up.  Its
 * calls: 4 per window, and 2 more to find an open start.
 */
static int64
bulk_rescan(MktoScan *scan, void *state)
{
	BulkState  *bs = state;
	TimestampTz now = mkto_whole_second_up(GetCurrentTimestamp());
	TimestampTz lo = DT_NOBEGIN;
	TimestampTz hi = now;
	bool		isnull = false;

	end_runs(scan, bs);
	bs->started = false;
	bs->empty = false;
	bs->jobs_made = 0;
	bs->rows = 0;
	bs->program_ids = NIL;
	bs->next_program = 0;
	if (bs->by_program)
		return scan->parent_key ? CALLS_PER_JOB : 1 + CALLS_PER_JOB;
	if (bs->hi_state)
	{
		hi = eval_bound(scan, bs->hi_state, &isnull);
		if (isnull || TIMESTAMP_IS_NOBEGIN(hi))
			bs->empty = true;
		/* nothing was created or updated in the future */
		hi = TIMESTAMP_NOT_FINITE(hi) ? now : Min(mkto_whole_second_up(hi), now);
	}
	if (bs->lo_state && !bs->empty)
	{
		lo = eval_bound(scan, bs->lo_state, &isnull);
		if (isnull || TIMESTAMP_IS_NOEND(lo))
			bs->empty = true;
	}
	if (bs->types_state && !bs->empty)
		bs->empty = !take_types(scan, bs);
	bs->range_end = hi;
	bs->next_start = TIMESTAMP_IS_NOBEGIN(lo) ? DT_NOBEGIN : mkto_whole_second_down(lo);
	if (bs->empty)
		return 0;
	if (TIMESTAMP_IS_NOBEGIN(lo))
		return 2 + CALLS_PER_JOB;
	if (bs->next_start > bs->range_end)
	{
		bs->empty = true;
		return 0;
	}
	return (int64) windows_between(bs->next_start, bs->range_end) * CALLS_PER_JOB;
}

/*
 * Every program's id, from the asset API's listing (offset paging).  The
 * asset API says "nothing found" as success with no result and a warning.
 */
static List *
list_program_ids(MktoScan *scan)
{
	List	   *ids = NIL;

	for (int offset = 0;; offset += PROGRAM_LISTING_PAGE)
	{
		StringInfoData query;
		MktoRequest req = {0};
		MktoResponse *resp;
		int			n;
		char		number[32];

		initStringInfo(&query);
		snprintf(number, sizeof(number), "%d", PROGRAM_LISTING_PAGE);
		mkto_append_query_param(&query, "maxReturn", number);
		snprintf(number, sizeof(number), "%d", offset);
		mkto_append_query_param(&query, "offset", number);
		req.path = PROGRAM_LISTING_PATH;
		req.query = query.data;
		resp = mkto_scan_read(scan, &req);
		n = resp->result ? (int) json_object_array_length(resp->result) : 0;
		for (int i = 0; i < n; i++)
		{
			json_object *program = json_object_array_get_idx(resp->result, i);
			json_object *id;

			if (!json_object_is_type(program, json_type_object) ||
				!json_object_object_get_ex(program, "id", &id) ||
				!json_object_is_type(id, json_type_int))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("malformed response from Marketo: a program without an integer id"),
						 errdetail("Request: GET /rest%s.", PROGRAM_LISTING_PATH)));
			ids = lappend(ids, pstrdup(json_object_get_string(id)));
		}
		if (n < PROGRAM_LISTING_PAGE)
			return ids;
	}
}

/* An open start: the first lead's creation; or the programs. */
static void
start_range(MktoScan *scan, BulkState *bs)
{
	bs->started = true;
	if (bs->by_program)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(scan->scan_cxt);

		bs->program_ids = scan->parent_key ? list_make1(pstrdup(scan->parent_key))
			: list_program_ids(scan);
		MemoryContextSwitchTo(oldcxt);
		bs->empty = bs->program_ids == NIL;
		return;
	}
	if (bs->empty || !TIMESTAMP_IS_NOBEGIN(bs->next_start))
		return;
	if (!first_lead_time(scan, &bs->next_start))
		bs->empty = true;
	else
		bs->empty = bs->next_start > bs->range_end;
}

static char *
job_body(BulkState *bs, const char *filter)
{
	return psprintf("{\"fields\":%s,\"format\":\"CSV\",\"filter\":%s}",
					bs->fields_json, filter);
}

/*
 * The next job's filter and label, in CurrentMemoryContext; false when the
 * range (or the programs) are covered.
 */
static bool
next_job_filter(BulkState *bs, char **filter, char **label)
{
	if (bs->by_program)
	{
		StringInfoData ids;
		int			n = 0;

		if (bs->next_program >= list_length(bs->program_ids))
			return false;
		initStringInfo(&ids);
		for (; bs->next_program < list_length(bs->program_ids) && n < PROGRAMS_PER_JOB; n++)
			appendStringInfo(&ids, "%s%s", n > 0 ? "," : "",
							 (char *) list_nth(bs->program_ids, bs->next_program++));
		*filter = psprintf("{\"programIds\":[%s]}", ids.data);
		*label = psprintf("program%s %s", n > 1 ? "s" : "", ids.data);
		return true;
	}
	else
	{
		TimestampTz end;
		char	   *from,
				   *to;

		if (bs->empty || bs->next_start > bs->range_end)
			return false;
		end = Min(bs->next_start + WINDOW_USECS, bs->range_end);
		from = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(bs->next_start));
		to = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(end));
		*filter = psprintf("{\"%s\":{\"startAt\":\"%s\",\"endAt\":\"%s\"}%s}",
						   bs->field, from, to, bs->types_json);
		*label = psprintf("%s %s to %s", bs->field, from, to);
		bs->next_start = end + USECS_PER_SEC;
		return true;
	}
}

/*
 * Creates the next job; NULL when none is left.  Where the subscription
 * has no updatedAt filter (1035), a lead scan goes over to createdAt
 * windows from the first lead: a lead is created before it is updated, so
 * they hold every lead of the range, and the local recheck keeps only
 * those.  A custom object export has no createdAt filter to go over to.
 */
static MktoBulkJob *
create_job(MktoScan *scan, BulkState *bs, char **label)
{
	for (;;)
	{
		MktoBulkJob *job;
		char	   *filter;
		bool		refused = false;

		if (!next_job_filter(bs, &filter, label))
			return NULL;
		job = mkto_bulk_create(scan->client, bs->use->path, job_body(bs, filter),
							   strcmp(bs->field, UPDATED_FIELD) == 0 ? NO_UPDATED_FILTER_CODE : NULL,
							   &refused);
		scan->calls++;
		if (!refused)
			return job;
		if (is_custom_object_use(bs->use))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Marketo refused the bulk custom object extract's updatedAt filter (code %s)",
							NO_UPDATED_FILTER_CODE),
					 errdetail("The subscription does not offer the updatedAt filter, the only date filter of custom object exports."),
					 errhint("Read %s with a filter on a searchable column, or ask Marketo Support to enable the filter.",
							 scan->opts->object->name)));
		ereport(NOTICE,
				(errmsg("Marketo refused the bulk extract's updatedAt filter (code %s): reading createdAt windows from the first lead instead, filtered locally",
						NO_UPDATED_FILTER_CODE),
				 errdetail("The subscription does not offer the updatedAt filter for lead exports.")));
		bs->field = CREATED_FIELD;
		if (!first_lead_time(scan, &bs->next_start))
		{
			bs->empty = true;	/* no lead at all */
			return NULL;
		}
	}
}

/*
 * Creates and enqueues jobs until two are in flight or the range is
 * covered.  A full queue (other integrations' jobs) leaves the job
 * created, to be enqueued on a later try.
 */
static void
fill_runs(MktoScan *scan, BulkState *bs)
{
	MktoTableOptions *opts = scan->opts;

	while (bs->nruns < JOBS_IN_FLIGHT)
	{
		BulkJobRun *run;
		MemoryContext oldcxt;

		if (bs->nruns > 0 && !bs->runs[bs->nruns - 1]->enqueued)
			break;
		if (bs->empty)
			break;
		run = MemoryContextAllocZero(scan->scan_cxt, sizeof(BulkJobRun));
		run->cxt = AllocSetContextCreate(scan->scan_cxt, "marketo_fdw export job",
										 ALLOCSET_DEFAULT_SIZES);
		oldcxt = MemoryContextSwitchTo(run->cxt);
		run->job = create_job(scan, bs, &run->label);
		MemoryContextSwitchTo(oldcxt);
		if (run->job == NULL)
		{
			MemoryContextDelete(run->cxt);
			pfree(run);
			break;
		}
		mkto_bulk_jobs_remember(scan->client, opts->server->serverid,
								opts->user->userid, run->job);
		run->number = ++bs->jobs_made;
		bs->runs[bs->nruns++] = run;
	}
	for (int i = 0; i < bs->nruns; i++)
	{
		BulkJobRun *run = bs->runs[i];
		MemoryContext oldcxt;

		if (run->enqueued)
			continue;
		oldcxt = MemoryContextSwitchTo(run->cxt);
		run->enqueued = mkto_bulk_enqueue(scan->client, run->job);
		MemoryContextSwitchTo(oldcxt);
		scan->calls++;
		run->last_poll = GetCurrentTimestamp();
		if (!run->enqueued)
		{
			if (!run->told_queue_full)
				progress(bs, run, "waiting: Marketo's export queue is full");
			run->told_queue_full = true;
			break;
		}
		progress(bs, run, run->job->status);
	}
}

/*
 * Sleeps until a job polled at last_poll may be polled again (a status
 * changes at most that often), showing a wait event; cancel ends it.
 */
static void
poll_wait(TimestampTz last_poll)
{
	long		ms = bulk_poll_interval_ms -
		TimestampDifferenceMilliseconds(last_poll, GetCurrentTimestamp());

	if (ms <= 0)
		return;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * The reader's bytes, from the first run's file.  Meanwhile the next run's
 * file, if its job is done, downloads into its own buffer: the two
 * transfers overlap, and the next file's first bytes are there when it is
 * read.
 */
static void look_ahead(MktoScan *scan, BulkState *bs);

static size_t
read_stream(void *arg, char *buf, size_t maxlen)
{
	BulkState  *bs = (BulkState *) arg;
	size_t		n = mkto_stream_read(bs->stream, buf, maxlen);

	if (bs->nruns > 1 && bs->runs[1]->stream)
		mkto_stream_prefetch(bs->runs[1]->stream);
	else
		look_ahead(bs->scan, bs);
	return n;
}

/* Polls the run's job once; true when it has ended. */
static bool
refresh_run(MktoScan *scan, BulkState *bs, BulkJobRun *run)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(run->cxt);
	bool		changed = mkto_bulk_refresh(scan->client, run->job);

	MemoryContextSwitchTo(oldcxt);
	run->last_poll = GetCurrentTimestamp();
	scan->calls++;
	if (changed && strcmp(run->job->status, "Completed") != 0)
		progress(bs, run, run->job->status);
	return mkto_bulk_job_ended(run->job);
}

/*
 * Opens the file of a Completed run, once its bytes fit the statement's
 * export cap.
 */
static void
open_run_file(MktoScan *scan, BulkState *bs, BulkJobRun *run)
{
	int64	   *exported = mkto_statement_export_bytes();
	MemoryContext oldcxt;

	*exported += Max(run->job->file_size, 0);
	if (max_export_kb > 0 && *exported > (int64) max_export_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the statement's Marketo exports reached " INT64_FORMAT " bytes, more than marketo_fdw.max_export_size (%d kB)",
						*exported, max_export_kb),
				 errdetail("Marketo allows 500 MB of bulk exports a day for the whole instance."),
				 errhint("Narrow the query with a %s range, select fewer columns, or raise marketo_fdw.max_export_size.",
						 is_activity_use(bs->use) ? "shorter activity_date" :
						 is_custom_object_use(bs->use) ? "updated_at" : "created_at")));
	progress(bs, run, psprintf("Completed, " INT64_FORMAT " records, " INT64_FORMAT " bytes; reading",
							   run->job->records, run->job->file_size));
	oldcxt = MemoryContextSwitchTo(run->cxt);
	run->stream = mkto_stream_open(scan->client, mkto_bulk_file_path(run->job),
								   run->job->file_size, run->job->checksum);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * While the first run's file is read: if the next run's job may be polled
 * (bulk_poll_interval) and is done, its file starts downloading too.  A
 * failed or cancelled job is reported when its turn comes, in order.
 */
static void
look_ahead(MktoScan *scan, BulkState *bs)
{
	BulkJobRun *next = bs->nruns > 1 ? bs->runs[1] : NULL;

	if (next == NULL || !next->enqueued || next->stream ||
		TimestampDifferenceMilliseconds(next->last_poll, GetCurrentTimestamp()) <
		bulk_poll_interval_ms)
		return;
	if ((mkto_bulk_job_ended(next->job) || refresh_run(scan, bs, next)) &&
		strcmp(next->job->status, "Completed") == 0)
	{
		open_run_file(scan, bs, next);
		mkto_stream_prefetch(next->stream);
		mkto_stream_set_companion(bs->stream, next->stream);
	}
}

/* Waits for the first run's job to complete, then opens its file. */
static void
open_first_file(MktoScan *scan, BulkState *bs)
{
	BulkJobRun *run = bs->runs[0];
	MemoryContext oldcxt;
	AttrNumber *attnums;
	const char **names;
	int			nall = list_length(scan->fields);

	while (run->stream == NULL)
	{
		fill_runs(scan, bs);
		if (run->enqueued)
		{
			/* a job read after another may be done already: no needless wait */
			poll_wait(run->last_poll);
			if (refresh_run(scan, bs, run))
				break;
		}
		else
		{
			poll_wait(run->last_poll);	/* for room in the queue */
			run->last_poll = GetCurrentTimestamp();
		}
	}

	if (strcmp(run->job->status, "Failed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo export job %s failed", run->job->export_id),
				 errdetail("Marketo's reason: %s",
						   run->job->error_msg ? run->job->error_msg : "(none given)")));
	if (strcmp(run->job->status, "Completed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo export job %s was cancelled", run->job->export_id),
				 errdetail("Something other than this scan cancelled it at Marketo.")));

	if (run->stream == NULL)
		open_run_file(scan, bs, run);
	bs->stream = run->stream;
	/* both files' requests out before either is waited for */
	mkto_stream_prefetch(bs->stream);
	look_ahead(scan, bs);

	oldcxt = MemoryContextSwitchTo(run->cxt);
	attnums = palloc0(sizeof(AttrNumber) * nall);
	names = palloc(sizeof(char *) * nall);
	for (int i = 0; i < nall; i++)
	{
		names[i] = strVal(list_nth(scan->fields, i));
		attnums[i] = i < scan->nfields ? scan->attnums[i] : 0;
	}
	bs->reader = mkto_csv_begin(scan->node->ss.ss_currentRelation, nall, attnums,
								names, read_stream, bs,
								psprintf("the file of Marketo export job %s", run->job->export_id));
	MemoryContextSwitchTo(oldcxt);
}

/* The first run is read: on to the next. */
static void
finish_first_run(MktoScan *scan, BulkState *bs)
{
	BulkJobRun *run = bs->runs[0];

	scan->calls += mkto_stream_requests(bs->stream);
	mkto_csv_end(bs->reader);
	bs->reader = NULL;
	bs->stream = NULL;
	mkto_bulk_jobs_forget(run->job);
	progress(bs, run, psprintf(UINT64_FORMAT " rows read so far", bs->rows));
	MemoryContextDelete(run->cxt);
	memmove(&bs->runs[0], &bs->runs[1], sizeof(BulkJobRun *) * (bs->nruns - 1));
	bs->nruns--;
}

static bool
bulk_next_row(MktoScan *scan, void *state, TupleTableSlot *slot)
{
	BulkState  *bs = state;
	ExprContext *econtext = scan->node->ss.ps.ps_ExprContext;

	if (!bs->started)
	{
		start_range(scan, bs);
		if (!bs->empty)
			(void) mkto_bulk_jobs_sweep(scan->client, scan->opts->server->serverid,
										scan->opts->user->userid);
	}
	for (;;)
	{
		if (bs->reader)
		{
			if (mkto_csv_next(bs->reader, econtext, bs->values, bs->nulls))
			{
				ExecClearTuple(slot);
				memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
				for (int i = 0; i < scan->nfields; i++)
				{
					slot->tts_values[scan->attnums[i] - 1] = bs->values[i];
					slot->tts_isnull[scan->attnums[i] - 1] = bs->nulls[i];
				}
				bs->rows++;
				return true;
			}
			finish_first_run(scan, bs);
		}
		fill_runs(scan, bs);
		if (bs->nruns == 0)
			return false;
		open_first_file(scan, bs);
	}
}

const MktoReadSource mkto_source_bulk = {
	.name = "bulk",
	.method = "bulk extract",
	.reads_all_parents = true,
	.plan = bulk_plan,
	.describe = bulk_describe,
	.shown_request = bulk_shown_request,
	.unfiltered_detail = bulk_unfiltered_detail,
	.begin = bulk_begin,
	.rescan = bulk_rescan,
	.next_row = bulk_next_row,
	.end = bulk_end,
};

void
mkto_bulk_source_init(void)
{
	DefineCustomIntVariable("marketo_fdw.bulk_poll_interval",
							"Time between status checks of a Marketo export job.",
							"Marketo refreshes a job's status at most once a minute and asks for no faster polling.",
							&bulk_poll_interval_ms, 60000, 10, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("marketo_fdw.progress",
							 "Reports the progress of bulk extract reads as NOTICEs.",
							 NULL, &bulk_progress, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.activities_bulk_days",
							"Longest activity_date range read over REST rather than by bulk extract.",
							"A read of activities without a lead filter over a longer range goes through Marketo's bulk activity extract; 0 sends every such read there.",
							&activities_bulk_days, 7, 0, 36500,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("marketo_fdw.max_export_size",
							"Largest total size of the export files one statement reads.",
							"Marketo allows 500 MB of bulk exports a day per instance; 0 means no cap.",
							&max_export_kb, 256 * 1024, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

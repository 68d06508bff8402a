/*-------------------------------------------------------------------------
 *
 * source_new_leads.c
 *		  Read source of leads without a usable filter: the New Lead
 *		  activities (type 12) list lead ids in creation order, page by
 *		  page, and each page's ids are then read as filterType=id.
 *
 * Marketo's REST API has no listing of the lead database itself.  Every
 * lead has one New Lead activity at its creation, so paging through them
 * from a start before any lead lists every lead: 2 calls per 300 leads,
 * made lazily, so that LIMIT n stops after the pages it needs.  A created
 * date lower bound is pushed as sinceDatetime (and still rechecked
 * locally).  A lead deleted since its activity is simply not returned; a
 * lead listed twice is dropped by the scan's repeat filter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "read_source.h"

/* the lead field a New Lead activity's date is */
#define CREATED_FIELD			"createdAt"

/*
 * A lead database of unknown size is planned as a large one: so a join
 * reads per outer row unless the outer side is large, and bulk extract
 * (a later change) will take over such reads.
 */
#define NEW_LEADS_ASSUMED_ROWS	1000000

/*
 * The largest LIMIT the listing is chosen for: 67 calls.  Beyond it a
 * bulk extract's few calls cost less of the daily quota.
 */
#define NEW_LEADS_MAX_LIMIT		10000

typedef struct NewLeadsState
{
	ExprState  *since_state;	/* the created date's lower bound, or NULL */
	char	   *since;			/* this run's sinceDatetime; NULL: no lead */
	MktoListedIds ids;			/* lead ids of the activity page */
	char	   *activity_token;	/* NULL before the paging token call */
	MemoryContext activity_cxt; /* the current activity page's ids */
} NewLeadsState;

/* Calls of a read of rows leads: the paging token, then 2 per page. */
static double
new_leads_calls(double rows)
{
	return 1 + 2 * ceil(rows / MKTO_PAGE_SIZE);
}

/* Read by when no filter applies; a created date lower bound is pushed. */
static bool
new_leads_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	ListCell   *lc;

	bool		other_clauses = false;

	if (in->has_filter || in->has_parent_key || in->opts->read_method == MKTO_READ_BULK)
		return false;
	foreach(lc, in->scan_clauses)
	{
		MktoRangeQual range;

		if (mkto_range_qual(in->root, in->baserel, in->opts, CREATED_FIELD,
							lfirst_node(RestrictInfo, lc), &range) &&
			range.is_lower)
		{
			if (out->exprs == NIL)
				out->exprs = list_make1(range.value_expr);
		}
		else
			other_clauses = true;
	}

	/*
	 * By choice, only the previews BI tools send: LIMIT n of this table
	 * alone, every row listed kept.  A query with conditions of its own
	 * could list the whole database 300 leads at a time: bulk extract
	 * reads that in a few calls.
	 */
	if (in->opts->read_method == MKTO_READ_AUTO &&
		(in->limit_rows <= 0 || in->limit_rows > NEW_LEADS_MAX_LIMIT || other_clauses))
	{
		out->exprs = NIL;
		return false;
	}
	out->private = list_make1(makeInteger(out->exprs != NIL));
	out->calls = new_leads_calls(NEW_LEADS_ASSUMED_ROWS);
	out->estimated = true;
	return true;
}

static double
new_leads_rows(void)
{
	return NEW_LEADS_ASSUMED_ROWS;
}

static char *
new_leads_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return psprintf("none: ids listed by GET /rest%s (activityTypeIds=%s) since %s, then filterType=%s",
					MKTO_ACTIVITIES_PATH, MKTO_NEW_LEAD_ACTIVITY,
					intVal(linitial(private)) ? "the lower bound of " CREATED_FIELD
					: MKTO_EARLIEST_LEAD, use->field);
}

static char *
new_leads_shown_request(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	return psprintf("GET /rest%s, then GET /rest%s and GET /rest%s per page",
					MKTO_PAGING_TOKEN_PATH, MKTO_ACTIVITIES_PATH, mkto_shown_path(obj, use->path));
}

static void *
new_leads_begin(MktoScan *scan, List *private, List *exprs)
{
	NewLeadsState *ns = palloc0(sizeof(NewLeadsState));

	if (exprs != NIL)
		ns->since_state = ExecInitExpr(linitial(exprs), (PlanState *) scan->node);
	ns->activity_cxt = AllocSetContextCreate(CurrentMemoryContext,
											 "marketo_fdw new leads",
											 ALLOCSET_SMALL_SIZES);
	return ns;
}

/*
 * This run's start.  A NULL or +infinity bound matches no lead: no call.
 */
static int64
new_leads_rescan(MktoScan *scan, void *state)
{
	NewLeadsState *ns = state;

	MemoryContextReset(ns->activity_cxt);
	ns->since = MKTO_EARLIEST_LEAD;
	if (ns->since_state)
	{
		bool		isnull;
		TimestampTz since = DatumGetTimestampTz(ExecEvalExpr(ns->since_state,
															 scan->node->ss.ps.ps_ExprContext,
															 &isnull));

		if (isnull || TIMESTAMP_IS_NOEND(since))
			ns->since = NULL;
		else if (!TIMESTAMP_IS_NOBEGIN(since))
		{
			/* whole seconds, rounded down: the recheck drops the excess */
			since = mkto_whole_second_down(since);
			ns->since = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(since));
		}
	}
	/* the paging token and one activity page */
	return ns->since ? 2 : 0;
}

static void
new_leads_start_pass(MktoScan *scan, void *state)
{
	NewLeadsState *ns = state;

	ns->ids.values = NIL;
	ns->ids.next_value = 0;
	ns->activity_token = NULL;
	ns->ids.done = ns->since == NULL;
}

char *
mkto_activity_paging_token(MktoScan *scan, const char *since, MemoryContext cxt)
{
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;

	initStringInfo(&query);
	mkto_append_query_param(&query, "sinceDatetime", since);
	req.path = MKTO_PAGING_TOKEN_PATH;
	req.query = query.data;
	resp = mkto_scan_read(scan, &req);
	if (resp->next_page_token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: no nextPageToken"),
				 errdetail("Request: GET /rest%s.", req.path)));
	return MemoryContextStrdup(cxt, resp->next_page_token);
}

/*
 * The lead ids of the next page of New Lead activities, as the values of
 * the following chunks.  A short or empty page does not end the listing:
 * only moreResult false does.
 */
static void
fetch_activity_page(MktoScan *scan, NewLeadsState *ns)
{
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;
	MemoryContext oldcxt;
	char	   *token;

	/* the token lives in activity_cxt: keep it across the reset */
	token = ns->activity_token ? MemoryContextStrdup(scan->chunk_cxt, ns->activity_token)
		: NULL;
	MemoryContextReset(ns->activity_cxt);
	oldcxt = MemoryContextSwitchTo(ns->activity_cxt);
	if (token == NULL)
		token = mkto_activity_paging_token(scan, ns->since, ns->activity_cxt);
	initStringInfo(&query);
	mkto_append_query_param(&query, "activityTypeIds", MKTO_NEW_LEAD_ACTIVITY);
	mkto_append_page_params(&query, token);
	req.path = MKTO_ACTIVITIES_PATH;
	req.query = query.data;
	resp = mkto_scan_read(scan, &req);
	mkto_listed_ids_take_page(&ns->ids, resp, "leadId", "an activity", req.path);
	/* Marketo gives a token with the last page too: moreResult ends it. */
	ns->activity_token = mkto_page_token(resp, req.path, token, ns->activity_cxt);
	ns->ids.done = ns->activity_token == NULL;
	MemoryContextSwitchTo(oldcxt);
}

static void
fetch_activity_page_of(MktoScan *scan, void *state)
{
	fetch_activity_page(scan, (NewLeadsState *) state);
}

static bool
new_leads_next_chunk(MktoScan *scan, void *state)
{
	NewLeadsState *ns = state;

	return mkto_listed_ids_next_chunk(scan, &ns->ids, fetch_activity_page_of, ns);
}

static void
new_leads_request(MktoScan *scan, void *state, MktoRequest *req,
				  StringInfo query, const char *page_token)
{
	NewLeadsState *ns = state;

	mkto_filter_request(scan, scan->use, scan->use->field, ns->ids.chunk, NULL, req, query,
						page_token);
}

const MktoReadSource mkto_source_new_leads = {
	.name = "new leads",
	.method = "REST listing",
	.plan = new_leads_plan,
	.listing_rows = new_leads_rows,
	.listing_calls = new_leads_calls,
	.describe = new_leads_describe,
	.shown_request = new_leads_shown_request,
	.unfiltered_detail = mkto_filter_unfiltered_detail,
	.begin = new_leads_begin,
	.rescan = new_leads_rescan,
	.start_pass = new_leads_start_pass,
	.next_chunk = new_leads_next_chunk,
	.request = new_leads_request,
};

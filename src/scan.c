/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The executor's scan of a Marketo foreign table.
 *
 * The plan names the read source (read_source.h) and its facts.  The scan
 * makes one pass per parent key value (one pass for objects without a
 * parent), asks the source for each chunk of the pass and the request of
 * each of its pages, follows nextPageToken, drops records an earlier call
 * returned, and turns records into tuples.  Where the source's chunks are
 * independent (save_chunk), the first pages of several chunks of a pass,
 * or else of several passes, go out together.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "mkto_limiter.h"
#include "mkto_multi.h"
#include "recheck.h"
#include "scan_plan.h"

/* First pages of chunks sent together at most (the instance's limit, 10). */
#define MKTO_MAX_PARALLEL_CALLS	10

typedef struct MktoScanState
{
	MktoScan	scan;			/* what the source sees */
	const MktoReadSource *source;
	void	   *source_state;
	MktoConverter *converters;	/* per used field */
	/* parent-keyed objects: one pass per parent key */
	ExprState  *key_state;
	Oid			key_type;
	bool		key_is_array;
	List	   *keys;			/* char * */
	int			next_key;
	bool		pass_open;

	bool		started;
	char	   *next_page_token;
	HTAB	   *seen_ids;		/* SeenRecord: records returned so far */

	json_object *page;
	int			page_len;
	int			page_pos;

	List	   *rechecks;		/* MktoHashedRecheck *: = ANY quals by hash */

	/*
	 * Chunks whose first pages were fetched together (sources with
	 * save_chunk), in group_cxt: the ones from ahead_pos on are not read
	 * yet.  They are the next chunks of the current pass, or with
	 * ahead_passes the first chunks of the next passes (ahead_keys: their
	 * indexes in keys), each read on to its pass's end before the next.
	 */
	MemoryContext group_cxt;
	int			ahead_n;
	int			ahead_pos;
	bool		ahead_passes;
	int		   *ahead_keys;
	void	  **ahead_chunks;
	MktoRequest *ahead_reqs;
	MktoResponse **ahead_pages;
} MktoScanState;


static Oid
scan_user(ForeignScanState *node)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	RangeTblEntry *rte = exec_rt_fetch(fsplan->scan.scanrelid, node->ss.ps.state);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}

/*
 * Refuses, before any call, a scan whose constants alone need more calls
 * than the statement's budget.  A count that is a guess refuses nothing:
 * the values are counted once known (check_scan_calls), and the limiter
 * stops the statement when the budget is spent.
 */
static void
check_planned_calls(MktoTableOptions *opts, double planned, bool estimated)
{
	int			budget = mkto_max_calls_per_statement();

	if (budget > 0 && !estimated && planned > budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the scan of foreign table \"%s\" is planned to make %.0f Marketo calls, more than marketo_fdw.max_calls_per_statement (%d)",
						opts->relname, planned, budget),
				 errdetail("Marketo counts every call against the instance's daily quota."),
				 errhint("Narrow the query, or raise marketo_fdw.max_calls_per_statement for this session.")));
}

/* fdw_exprs, with a batched join's keys parameter back (see plan.c). */
static List *
scan_exprs(ForeignScan *fsplan)
{
	List	   *batch = list_nth(fsplan->fdw_private, MktoScanBatchKeys);
	List	   *exprs;
	ListCell   *lc;

	if (batch == NIL)
		return fsplan->fdw_exprs;
	exprs = list_copy(fsplan->fdw_exprs);
	foreach(lc, (List *) lsecond(batch))
		list_nth_cell(exprs, lfirst_int(lc))->ptr_value = linitial(batch);
	return exprs;
}

void
marketoBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	MktoScanState *st;
	MktoScan   *scan;
	const MktoObjectDesc *obj;
	int			key_mode;
	int			source;
	int			next_expr = 0;
	List	   *exprs;

	/* Plain EXPLAIN reads the plan only: no state, no Marketo call. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st = palloc0(sizeof(MktoScanState));
	node->fdw_state = st;
	scan = &st->scan;
	scan->node = node;
	scan->opts = mkto_get_table_options(RelationGetRelid(node->ss.ss_currentRelation),
										scan_user(node));
	obj = scan->opts->object;
	mkto_flush_writes(scan->opts->server->serverid);	/* read-your-writes */
	scan->fields = (List *) list_nth(fsplan->fdw_private, MktoScanFields);
	key_mode = intVal(list_nth(fsplan->fdw_private, MktoScanKeyIsArray));
	source = intVal(list_nth(fsplan->fdw_private, MktoScanSource));
	check_planned_calls(scan->opts,
						floatVal(list_nth(fsplan->fdw_private, MktoScanPlannedCalls)),
						intVal(list_nth(fsplan->fdw_private, MktoScanCallsEstimated)) != 0);

	if (obj->parent_key && key_mode < 0 &&
		!(source >= 0 && obj->reads[source].source->reads_all_parents))
	{
		MktoColumn *key_column = mkto_column_by_field(scan->opts, obj->parent_key);

		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("a scan of foreign table \"%s\" needs a condition on column \"%s\"",
						scan->opts->relname,
						key_column ? key_column->attname : obj->parent_key),
				 errdetail("Marketo's REST API reads %s within one %s at a time.",
						   obj->name, obj->parent_key),
				 errhint("Add WHERE %s = value, IN (...) or = ANY(...).",
						 key_column ? key_column->attname : obj->parent_key)));
	}
	if (source < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("a scan of foreign table \"%s\" needs a filter Marketo can apply",
						scan->opts->relname),
				 errdetail_internal("%s", obj->reads[0].source->unfiltered_detail(obj)),
				 errhint("Add WHERE column = value, IN (...) or = ANY(...) on one of these columns: %s.",
						 mkto_searchable_columns(scan->opts))));
	scan->use = &obj->reads[source];
	st->source = scan->use->source;

	scan->client = mkto_connect(scan->opts);

	/* Fields: the columns used, plus the id to drop repeated records. */
	scan->nfields = list_length(scan->fields);
	st->converters = mkto_converters_for(scan->opts,
										 (List *) list_nth(fsplan->fdw_private, MktoScanAttnums),
										 &scan->attnums);
	if (!list_member(scan->fields, makeString((char *) obj->id_field)))
		scan->fields = lappend(list_copy(scan->fields), makeString((char *) obj->id_field));
	{
		/* The injected key is in the path, not a field of the records. */
		List	   *requested = NIL;
		ListCell   *lc;

		foreach(lc, scan->fields)
		{
			if (!obj->injected_key_field ||
				strcmp(strVal(lfirst(lc)), obj->injected_key_field) != 0)
				requested = lappend(requested, lfirst(lc));
		}
		scan->fields_param = mkto_fields_param(requested);
	}

	exprs = scan_exprs(fsplan);
	if (key_mode >= 0)
	{
		Expr	   *expr = list_nth(exprs, next_expr++);

		st->key_state = ExecInitExpr(expr, (PlanState *) node);
		st->key_is_array = key_mode == 1;
		st->key_type = st->key_is_array ? get_element_type(exprType((Node *) expr))
			: exprType((Node *) expr);
	}

	scan->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "marketo_fdw scan",
										   ALLOCSET_DEFAULT_SIZES);
	scan->chunk_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"marketo_fdw chunk",
											ALLOCSET_SMALL_SIZES);
	scan->page_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "marketo_fdw page",
										   ALLOCSET_DEFAULT_SIZES);
	st->group_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "marketo_fdw chunk group",
										  ALLOCSET_DEFAULT_SIZES);
	{
		ListCell   *lc;

		foreach(lc, (List *) list_nth(fsplan->fdw_private, MktoScanHashedRechecks))
		{
			List	   *r = lfirst(lc);

			st->rechecks = lappend(st->rechecks,
								   mkto_hashed_recheck_begin((PlanState *) node,
															 lsecond_int(r), lthird_int(r),
															 linitial_int(r),
															 list_nth(exprs, lfourth_int(r))));
		}
	}
	st->source_state =
		st->source->begin(scan,
						  (List *) list_nth(fsplan->fdw_private, MktoScanSourcePrivate),
						  list_copy_tail(exprs, next_expr));
}

/*
 * Evaluates the filter expression into the distinct values to send,
 * trimmed of surrounding blanks as Marketo stores them.  Repeats are
 * dropped only when exactly equal: some fields (Salesforce ids) compare
 * case-sensitively.  The local recheck keeps SQL's semantics.
 */
List *
mkto_scan_values(MktoScan *scan, ExprState *state, Oid type, bool is_array,
				 const char *field, bool comma_joined)
{
	ExprContext *econtext = scan->node->ss.ps.ps_ExprContext;
	Datum		datum;
	bool		isnull;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **vals;
	int			nvals = 0;
	List	   *result = NIL;
	MemoryContext oldcxt;

	datum = ExecEvalExpr(state, econtext, &isnull);
	if (isnull)
		return NIL;

	oldcxt = MemoryContextSwitchTo(scan->scan_cxt);
	if (is_array)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(datum), type, typlen,
						  typbyval, typalign, &elems, &nulls, &n);
	}
	else
	{
		elems = &datum;
		nulls = &isnull;
		n = 1;
	}

	vals = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		char	   *text;
		char	   *trimmed;
		size_t		len;

		if (nulls[i])
			continue;			/* = NULL matches nothing */
		text = mkto_datum_to_text(type, elems[i]);
		trimmed = text + strspn(text, " \t\r\n");
		len = strlen(trimmed);
		while (len > 0 && strchr(" \t\r\n", trimmed[len - 1]))
			len--;
		if (len == 0)
			continue;			/* Marketo stores blank as empty: no match */
		trimmed = pnstrdup(trimmed, len);

		if (comma_joined && strchr(trimmed, ',') != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("cannot filter Marketo field \"%s\" on a value containing a comma",
							field),
					 errdetail("Value: \"%s\". Marketo's filterValues parameter is comma-separated and has no escape.",
							   trimmed),
					 errhint("Filter on another searchable column; this condition will then be checked locally.")));

		vals[nvals++] = trimmed;
	}

	/* sorted, so that what is sent does not depend on the input's order */
	qsort(vals, nvals, sizeof(char *), pg_qsort_strcmp);
	for (int i = 0; i < nvals; i++)
	{
		if (i > 0 && strcmp(vals[i], vals[i - 1]) == 0)
			continue;
		result = lappend(result, vals[i]);
	}
	MemoryContextSwitchTo(oldcxt);
	return result;
}

/*
 * The next count of values from *next on, comma-joined in the current
 * memory context; NULL when none are left.
 */
char *
mkto_values_chunk(List *values, int *next, int limit)
{
	StringInfoData buf;

	if (*next >= list_length(values))
		return NULL;
	initStringInfo(&buf);
	for (int i = *next; i < list_length(values) && i < *next + limit; i++)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "",
						 (char *) list_nth(values, i));
	*next += limit;
	return buf.data;
}

/* batchSize, and the token of the page asked for. */
void
mkto_append_page_params(StringInfo query, const char *page_token)
{
	char		batch[16];

	snprintf(batch, sizeof(batch), "%d", MKTO_PAGE_SIZE);
	mkto_append_query_param(query, "batchSize", batch);
	if (page_token)
		mkto_append_query_param(query, "nextPageToken", page_token);
}

/* EXPLAIN VERBOSE's request of a GET to the use's path. */
char *
mkto_shown_get(const MktoSourceUse *use, const MktoObjectDesc *obj)
{
	return psprintf("GET /rest%s", mkto_shown_path(obj, use->path));
}

/*
 * Starts the pass over the next parent key; objects without one make a
 * single pass.  False when no pass is left.
 */
static bool
start_pass(MktoScanState *st)
{
	MemoryContext oldcxt;

	if (!st->scan.opts->object->parent_key)
	{
		if (st->next_key > 0)
			return false;
		st->next_key = 1;
	}
	else
	{
		if (st->next_key >= list_length(st->keys))
			return false;
		st->scan.parent_key = list_nth(st->keys, st->next_key++);
		oldcxt = MemoryContextSwitchTo(st->scan.scan_cxt);
		st->scan.injected_key = mkto_track_json(json_object_new_string(st->scan.parent_key));
		MemoryContextSwitchTo(oldcxt);
	}
	st->pass_open = true;
	st->source->start_pass(&st->scan, st->source_state);
	return true;
}

/* req made a read: a GET, safe to repeat, with the object's timeout. */
static void
read_request(MktoScan *scan, MktoRequest *req)
{
	req->method = MKTO_GET;
	req->timeout_ms = scan->opts->object->query_timeout_ms;
	req->idempotent = true;
}

/* Checks that the result of a read is a list of records. */
static void
check_read(MktoScan *scan, const MktoRequest *req, MktoResponse *resp)
{
	scan->calls++;
	if (resp->result != NULL && !json_object_is_type(resp->result, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: \"result\" is not an array"),
				 errdetail("Request: GET /rest%s.", req->path)));
}

/* Sends a read and checks that its result is a list of records. */
MktoResponse *
mkto_scan_read(MktoScan *scan, MktoRequest *req)
{
	MktoResponse *resp;

	read_request(scan, req);
	resp = mkto_call(scan->client, req);
	check_read(scan, req, resp);
	return resp;
}

/*
 * The token of the next page, copied into cxt; NULL after the last page.
 * previous is the token this page was asked for with, or NULL.
 *
 * Most endpoints say moreResult, but the docs show list and program lead
 * listings with only a nextPageToken while pages remain.  So without
 * moreResult a token means more, unless the page was empty: a token on a
 * last page then costs one more call, never a missed page.
 */
char *
mkto_page_token(MktoResponse *resp, const char *path, const char *previous,
			  MemoryContext cxt)
{
	int			records = resp->result ? (int) json_object_array_length(resp->result) : 0;

	if (resp->more_result_given && !resp->more_result)
		return NULL;
	if (resp->next_page_token == NULL)
	{
		if (resp->more_result)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo: moreResult without nextPageToken"),
					 errdetail("Request: GET /rest%s.", path)));
		return NULL;
	}
	if (!resp->more_result_given && records == 0)
		return NULL;
	if (previous && strcmp(previous, resp->next_page_token) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: the same nextPageToken twice in a row"),
				 errdetail("Request: GET /rest%s.", path),
				 errhint("Paging would not end; the scan stops here instead.")));
	return MemoryContextStrdup(cxt, resp->next_page_token);
}

/* resp, the answer to req, becomes the current page. */
static void
take_page(MktoScanState *st, MktoRequest *req, MktoResponse *resp,
		  char *previous)
{
	st->page = st->source->records
		? st->source->records(&st->scan, st->source_state, resp)
		: resp->result;
	st->page_len = st->page ? (int) json_object_array_length(st->page) : 0;
	st->page_pos = 0;

	st->next_page_token = mkto_page_token(resp, req->path, previous, st->scan.scan_cxt);
	if (previous)
		pfree(previous);
}

static void
fetch_page(MktoScanState *st)
{
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;
	MemoryContext oldcxt;
	char	   *previous = st->next_page_token;

	MemoryContextReset(st->scan.page_cxt);
	oldcxt = MemoryContextSwitchTo(st->scan.page_cxt);
	initStringInfo(&query);
	st->source->request(&st->scan, st->source_state, &req, &query, previous);
	req.query = query.data;
	resp = mkto_scan_read(&st->scan, &req);
	take_page(st, &req, resp, previous);
	MemoryContextSwitchTo(oldcxt);
}

/* The source's next chunk of the open pass, in chunk_cxt. */
static bool
source_next_chunk(MktoScanState *st)
{
	MemoryContext oldcxt;
	bool		more;

	MemoryContextReset(st->scan.chunk_cxt);
	oldcxt = MemoryContextSwitchTo(st->scan.chunk_cxt);
	more = st->source->next_chunk(&st->scan, st->source_state);
	MemoryContextSwitchTo(oldcxt);
	return more;
}

/*
 * The group's chunk i made the current one again, in group_cxt.  A pass's
 * first chunk: the pass is started again first (the sources that save
 * chunks make no call to start a pass or take its first chunk), so that
 * its further chunks follow from it.
 */
static void
restore_group_chunk(MktoScanState *st, int i)
{
	if (st->ahead_passes)
	{
		st->next_key = st->ahead_keys[i];
		if (!start_pass(st) || !source_next_chunk(st))
			elog(ERROR, "marketo_fdw: a pass read together with others has no chunk");
	}
	st->source->restore_chunk(&st->scan, st->source_state, st->ahead_chunks[i]);
}

/*
 * The group's next chunk becomes the current one, with its fetched first
 * page; false when none is left.
 */
static bool
take_group_chunk(MktoScanState *st)
{
	MemoryContext oldcxt;
	int			i = st->ahead_pos;

	if (i >= st->ahead_n)
		return false;
	st->ahead_pos++;
	oldcxt = MemoryContextSwitchTo(st->group_cxt);
	restore_group_chunk(st, i);
	take_page(st, &st->ahead_reqs[i], st->ahead_pages[i], NULL);
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Starts collecting a group in group_cxt, which is left current: the
 * calls the limiter has room for (marketo_fdw.max_concurrent_calls), at
 * most MKTO_MAX_PARALLEL_CALLS; 0, with nothing changed, when there is room
 * for one call only.
 */
static int
begin_group(MktoScanState *st)
{
	int			room = mkto_client_room(st->scan.client, MKTO_MAX_PARALLEL_CALLS);

	st->ahead_n = st->ahead_pos = 0;
	if (room < 2)
		return 0;
	MemoryContextReset(st->group_cxt);
	MemoryContextSwitchTo(st->group_cxt);
	st->ahead_passes = false;
	st->ahead_keys = palloc(sizeof(int) * room);
	st->ahead_chunks = palloc(sizeof(void *) * room);
	st->ahead_reqs = palloc0(sizeof(MktoRequest) * room);
	st->ahead_pages = palloc0(sizeof(MktoResponse *) * room);
	return room;
}

/*
 * The current chunk saved as the group's n-th, with the request of its
 * first page; false, with nothing saved, when the source reads its chunks
 * one at a time.
 */
static bool
add_to_group(MktoScanState *st, int n)
{
	MktoScan   *scan = &st->scan;
	StringInfoData query;

	st->ahead_chunks[n] = st->source->save_chunk(scan, st->source_state);
	if (st->ahead_chunks[n] == NULL)
		return false;
	st->ahead_keys[n] = st->next_key - 1;
	initStringInfo(&query);
	st->source->request(scan, st->source_state, &st->ahead_reqs[n], &query, NULL);
	st->ahead_reqs[n].query = query.data;
	read_request(scan, &st->ahead_reqs[n]);
	return true;
}

/*
 * Sends the first pages of the group's n chunks together and makes the
 * first chunk current; or, for fewer than two, sends nothing and makes
 * the first chunk current again (false).  The answers are kept in request
 * order whatever order they arrive in; the limiter and the budget count
 * each call (mkto_call_many).
 */
static bool
send_group(MktoScanState *st, int n)
{
	if (n < 2)
	{
		restore_group_chunk(st, 0);
		return false;
	}
	mkto_call_many(st->scan.client, st->ahead_reqs, n, st->ahead_pages);
	for (int i = 0; i < n; i++)
		check_read(&st->scan, &st->ahead_reqs[i], st->ahead_pages[i]);
	st->ahead_n = n;
	return true;
}

/*
 * With the current chunk the first of a pass's chunks still to read: sends
 * the first pages of it and of the pass's next ones together, so that
 * their latency overlaps (a lead's memberships, one lead a chunk); or,
 * when it is the pass's only chunk, of it and of the next passes' first
 * chunks (parent keys: programs read by a filter within each).  Their
 * records are then read in chunk and key order, each chunk's further
 * pages, and each grouped pass's further chunks, one after another as
 * before.  False, with the current chunk unchanged, when there is room
 * for one call only, nothing else is left to send with it, or the source
 * reads one at a time.
 *
 * Only sources with save_chunk come here, where save_chunk answers alike
 * for every chunk of a scan: the filter, by-key and every-record sources,
 * whose first call depends on nothing (the every-record one's may come
 * back with Marketo's filter-limit refusal, which mkto_call_many returns
 * as mkto_call does, and that pass then falls back).  The range, listing
 * and bulk sources stay one chunk and pass at a time: the listing's query
 * depends on the ids it listed, the bulk source makes jobs, and the range
 * source may hand a pass over to the every-record one.
 */
static bool
fetch_together(MktoScanState *st, bool pass_started)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	int			room = begin_group(st);
	int			n = 0;
	bool		pass_done = false;
	bool		sent;

	if (room == 0)
		return false;
	while (add_to_group(st, n) && ++n < room)
	{
		if (!source_next_chunk(st))
		{
			pass_done = true;
			break;
		}
	}
	if (n == 1 && pass_done && pass_started && st->scan.opts->object->parent_key)
	{
		st->ahead_passes = true;
		while (n < room && start_pass(st))
		{
			/* a pass without chunks reads nothing: started again later */
			if (!source_next_chunk(st))
				continue;
			if (!add_to_group(st, n))
				break;
			n++;
		}
	}
	sent = n > 0 && send_group(st, n);
	MemoryContextSwitchTo(oldcxt);
	return sent && take_group_chunk(st);
}

/*
 * Makes the next page of the scan current: the chunk's next one, else the
 * first of the next chunk of the pass, else of the next pass; fetched
 * with others where they are independent.  False when none is left.
 */
static bool
next_page(MktoScanState *st)
{
	bool		pass_started = false;

	if (st->next_page_token != NULL)
	{
		fetch_page(st);
		return true;
	}
	if (!st->ahead_passes && take_group_chunk(st))
		return true;
	for (;;)
	{
		if (st->pass_open && source_next_chunk(st))
			break;
		st->pass_open = false;
		if (st->ahead_passes && take_group_chunk(st))
			return true;
		if (!start_pass(st))
			return false;
		pass_started = true;
	}
	/* one group at a time: a grouped pass's further chunks come serially */
	if (st->source->save_chunk && st->ahead_pos >= st->ahead_n &&
		fetch_together(st, pass_started))
		return true;
	fetch_page(st);
	return true;
}

/*
 * A record this scan has returned, keyed by its id within its parent or
 * injected key: "<scope length>:<scope>/<id>", so no two keys run
 * together.  The key is a pointer to text of any length.
 */
typedef struct SeenRecord
{
	char	   *key;
} SeenRecord;

static uint32
seen_record_hash(const void *key, Size keysize)
{
	const char *text = *(char *const *) key;

	return hash_bytes((const unsigned char *) text, (int) strlen(text));
}

static int
seen_record_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

static HTAB *
create_seen_records(MemoryContext cxt)
{
	HASHCTL		ctl = {0};

	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(SeenRecord);
	ctl.hash = seen_record_hash;
	ctl.match = seen_record_match;
	ctl.hcxt = cxt;
	return hash_create("marketo_fdw records", 1024, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/*
 * True when this record was already returned by an earlier call of this
 * scan: two chunks, pages or windows may both hold it.  A record without
 * an id is never taken for another.
 */
static bool
seen_before(MktoScanState *st, json_object *record)
{
	json_object *id;
	const char *scope;
	char	   *key;
	SeenRecord *entry;
	bool		found;

	if (!json_object_object_get_ex(record, st->scan.opts->object->id_field, &id) ||
		!(json_object_is_type(id, json_type_int) ||
		  json_object_is_type(id, json_type_double) ||
		  json_object_is_type(id, json_type_string)))
		return false;
	/* ids are integers for some objects and GUID strings for others */
	scope = st->scan.injected_key ? json_object_get_string(st->scan.injected_key) : "";
	key = psprintf("%zu:%s/%s", strlen(scope), scope, json_object_get_string(id));
	entry = hash_search(st->seen_ids, &key, HASH_ENTER, &found);
	if (!found)
		entry->key = MemoryContextStrdup(st->scan.scan_cxt, key);
	pfree(key);
	return found;
}

static void
store_record(MktoScanState *st, json_object *record, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	MemoryContext oldcxt = MemoryContextSwitchTo(st->scan.page_cxt);
	ListCell   *lc;
	int			i = 0;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);

	foreach(lc, st->scan.fields)
	{
		json_object *value = NULL;
		AttrNumber	attnum;

		if (i >= st->scan.nfields)
			break;
		attnum = st->scan.attnums[i];
		/* A requested field that is absent is null, as Marketo documents. */
		if (!json_object_object_get_ex(record, strVal(lfirst(lc)), &value) &&
			st->scan.injected_key &&
			strcmp(strVal(lfirst(lc)), st->scan.opts->object->injected_key_field) == 0)
			value = st->scan.injected_key;
		slot->tts_values[attnum - 1] =
			mkto_json_to_datum(&st->converters[i], value,
							   &slot->tts_isnull[attnum - 1]);
		i++;
	}
	ExecStoreVirtualTuple(slot);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Refuses, before its first call, a run of the scan that cannot fit in
 * what is left of the statement's call budget, now that its values (from
 * parameters, subqueries or the outer row) are known.
 */
static void
check_scan_calls(MktoScanState *st, int64 per_pass)
{
	int			budget = mkto_max_calls_per_statement();
	int64		made;
	int64		needed;

	if (budget <= 0)
		return;
	/* one page per chunk of every pass */
	needed = (st->scan.opts->object->parent_key ? list_length(st->keys) : 1) * per_pass;
	made = mkto_statement_calls();
	if (needed > 0 && made + needed > budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg_plural("the scan of foreign table \"%s\" needs at least %lld Marketo call, more than marketo_fdw.max_calls_per_statement (%d) leaves",
							   "the scan of foreign table \"%s\" needs at least %lld Marketo calls, more than marketo_fdw.max_calls_per_statement (%d) leaves",
							   (unsigned long) needed,
							   st->scan.opts->relname, (long long) needed, budget),
				 made > 0
				 ? errdetail("The statement has made %lld Marketo calls already. Marketo counts every call against the instance's daily quota.",
							 (long long) made)
				 : errdetail("Marketo counts every call against the instance's daily quota."),
				 errhint("Narrow the query, or raise marketo_fdw.max_calls_per_statement for this session.")));
}

static void
start_scan(MktoScanState *st)
{
	MktoScan   *scan = &st->scan;
	MemoryContext oldcxt;
	int64		per_pass;
	ListCell   *lc;

	if (st->source->end)
		st->source->end(scan, st->source_state);
	if (scan->rows_source)
		scan->rows_source->end(scan, scan->rows_state);
	scan->rows_source = NULL;
	MemoryContextReset(scan->scan_cxt);
	MemoryContextReset(scan->page_cxt);
	MemoryContextReset(scan->chunk_cxt);
	st->next_page_token = NULL;
	st->page = NULL;
	st->page_len = st->page_pos = 0;
	st->ahead_n = st->ahead_pos = 0;
	st->ahead_passes = false;
	MemoryContextReset(st->group_cxt);
	scan->injected_key = NULL;
	scan->parent_key = NULL;
	st->next_key = 0;
	st->pass_open = false;
	oldcxt = MemoryContextSwitchTo(scan->scan_cxt);
	per_pass = st->source->rescan(scan, st->source_state);
	MemoryContextSwitchTo(oldcxt);
	if (st->key_state)
		st->keys = mkto_scan_values(scan, st->key_state, st->key_type,
									st->key_is_array, scan->opts->object->parent_key,
									false);	/* one key a pass, in the path */
	st->seen_ids = create_seen_records(scan->scan_cxt);
	foreach(lc, st->rechecks)
		mkto_hashed_recheck_rescan(lfirst(lc), scan->node->ss.ps.ps_ExprContext);
	check_scan_calls(st, per_pass);
	st->started = true;
}

/* The quals taken out of the plan's for a recheck by hash. */
static bool
rechecks_pass(MktoScanState *st, TupleTableSlot *slot)
{
	ListCell   *lc;

	foreach(lc, st->rechecks)
	{
		if (!mkto_hashed_recheck_match(lfirst(lc), slot))
			return false;
	}
	return true;
}

TupleTableSlot *
marketoIterateForeignScan(ForeignScanState *node)
{
	MktoScanState *st = (MktoScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (!st->started)
		start_scan(st);

	if (st->source->next_row)
	{
		for (;;)
		{
			/* a row the rechecks dropped leaves nothing behind */
			ResetExprContext(node->ss.ps.ps_ExprContext);
			CHECK_FOR_INTERRUPTS();
			if (!st->source->next_row(&st->scan, st->source_state, slot))
				return ExecClearTuple(slot);
			ExecStoreVirtualTuple(slot);
			if (rechecks_pass(st, slot))
				return slot;
		}
	}

	for (;;)
	{
		while (st->page_pos < st->page_len)
		{
			json_object *record = json_object_array_get_idx(st->page, st->page_pos++);

			if (!json_object_is_type(record, json_type_object))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("malformed response from Marketo: a result record is not an object"),
						 errdetail("Request: GET %s.", st->scan.use->path)));
			if (seen_before(st, record))
				continue;
			store_record(st, record, slot);
			if (rechecks_pass(st, slot))
				return slot;
		}

		if (st->scan.rows_source)
		{
			ResetExprContext(node->ss.ps.ps_ExprContext);
			if (st->scan.rows_source->next_row(&st->scan, st->scan.rows_state, slot))
			{
				ExecStoreVirtualTuple(slot);
				if (rechecks_pass(st, slot))
					return slot;
				continue;
			}
			st->scan.rows_source->end(&st->scan, st->scan.rows_state);
			st->scan.rows_source = NULL;
		}

		CHECK_FOR_INTERRUPTS();
		if (!next_page(st))
			break;
	}

	return ExecClearTuple(slot);
}

void
marketoReScanForeignScan(ForeignScanState *node)
{
	MktoScanState *st = (MktoScanState *) node->fdw_state;

	if (st)
		st->started = false;
}

void
marketoEndForeignScan(ForeignScanState *node)
{
	MktoScanState *st = (MktoScanState *) node->fdw_state;

	/* Memory contexts go with the query; json is freed by their reset. */
	if (st && st->started && st->source->end)
		st->source->end(&st->scan, st->source_state);
	if (st && st->scan.rows_source)
		st->scan.rows_source->end(&st->scan, st->scan.rows_state);
}

void
marketoExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	MktoScanState *st = (MktoScanState *) node->fdw_state;
	List	   *fields = (List *) list_nth(fsplan->fdw_private, MktoScanFields);
	const MktoObjectDesc *obj =
		mkto_table_object(RelationGetRelid(node->ss.ss_currentRelation));
	int			key_mode = intVal(list_nth(fsplan->fdw_private, MktoScanKeyIsArray));
	int			key_known = intVal(list_nth(fsplan->fdw_private, MktoScanKeyKnownValues));
	int			source = intVal(list_nth(fsplan->fdw_private, MktoScanSource));
	List	   *source_private = (List *) list_nth(fsplan->fdw_private, MktoScanSourcePrivate);
	double		planned = floatVal(list_nth(fsplan->fdw_private, MktoScanPlannedCalls));
	bool		calls_estimated = intVal(list_nth(fsplan->fdw_private, MktoScanCallsEstimated)) != 0;
	/* without a source, the object's first tells what is sent */
	const MktoSourceUse *use = &obj->reads[Max(source, 0)];

	ExplainPropertyText("Marketo Object", obj->name, es);
	if (source >= 0)
		ExplainPropertyText("Marketo Read Method", use->source->method, es);
	if (es->format == EXPLAIN_FORMAT_TEXT && calls_estimated)
		ExplainPropertyText("Marketo Planned Calls",
							psprintf("%.0f (estimate)", planned), es);
	else
		ExplainPropertyFloat("Marketo Planned Calls", NULL, planned, 0, es);
	if (es->format != EXPLAIN_FORMAT_TEXT)
		ExplainPropertyBool("Marketo Planned Calls Estimated", calls_estimated, es);
	if (obj->parent_key)
		ExplainPropertyText("Marketo Parent",
							key_mode < 0 && source >= 0 && use->source->reads_all_parents
							? psprintf("none: every %s", obj->parent_key)
							: key_mode < 0 ? "none (cannot be executed)"
							: key_known >= 0
							? psprintf("%s, %d value%s, one call series per value",
									   obj->parent_key, key_known,
									   key_known == 1 ? "" : "s")
							: psprintf("%s, values from %s", obj->parent_key,
									   key_mode == 1 ? "an array parameter" : "a parameter"),
							es);
	ExplainPropertyText("Marketo Filter",
						source < 0 ? "none (cannot be executed)"
						: use->source->describe(use, obj, source_private), es);
	if (use->takes_fields)
		ExplainPropertyText("Marketo Fields",
							fields ? mkto_fields_param(fields) : "(none)", es);
	if (es->verbose)
		ExplainPropertyText("Marketo Request", use->source->shown_request(use, obj), es);
	{
		ListCell   *lc;

		/* the quals taken out of Filter, checked by hash instead */
		foreach(lc, (List *) list_nth(fsplan->fdw_private, MktoScanHashedRechecks))
			ExplainPropertyText("Marketo Recheck",
								psprintf("%s = ANY (array), by hash",
										 quote_identifier(get_attname(RelationGetRelid(node->ss.ss_currentRelation),
																	  linitial_int((List *) lfirst(lc)),
																	  false))),
								es);
	}
	if (es->analyze && st)
		ExplainPropertyInteger("Marketo Calls", NULL, (int64) st->scan.calls, es);
}

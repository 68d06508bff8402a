/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The executor's scan of a Marketo foreign table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "marketo_fdw.h"
#include "mkto_limiter.h"
#include "scan_plan.h"

/* Room for a compound key tuple as JSON text, for dropping repeats. */
#define MKTO_TUPLE_KEY_LEN		512

/* Where a scan's filterValues come from. */
typedef enum MktoScanMode
{
	SCAN_VALUES,				/* a WHERE clause */
	SCAN_BROWSE,				/* none: the object is listed whole */
	SCAN_RANGE,					/* startAt/endAt windows */
	SCAN_LISTING,				/* ids from the parent's listing_path */
	SCAN_COMPOUND				/* compound key tuples as a JSON input */
} MktoScanMode;

typedef struct MktoScanState
{
	MktoTableOptions *opts;
	MktoClient *client;
	char	   *filter_field;
	bool		is_array;
	List	   *fields;			/* String */
	char	   *fields_param;
	int			nfields;
	AttrNumber *attnums;		/* per field, 0 if not a column */
	MktoConverter *converters;	/* per field */
	ExprState  *value_state;
	Oid			value_type;		/* element type for arrays */
	MktoScanMode mode;
	/* parent-keyed objects: one pass per parent key */
	ExprState  *key_state;
	Oid			key_type;
	bool		key_is_array;
	List	   *keys;			/* char * */
	int			next_key;
	char	   *cur_key;
	bool		pass_open;
	/* SCAN_RANGE */
	ExprState  *lo_state;
	ExprState  *hi_state;
	TimestampTz range_start;
	TimestampTz range_end;
	TimestampTz window_start;
	bool		range_done;
	char	   *window_text[2]; /* startAt, endAt of the current window */
	/* SCAN_LISTING */
	char	   *listing_token;
	bool		listing_done;
	MemoryContext listing_cxt;	/* the current listing page's ids */
	/* SCAN_COMPOUND */
	int			ntuples;
	ExprState **tuple_states;	/* ntuples x the key's fields */
	MktoConverter *key_converters;	/* per key field */
	json_object *inputs;		/* the distinct tuples, as records */
	json_object *chunk_input;	/* the current chunk of them */
	MemoryContext chunk_cxt;	/* the current chunk */

	MemoryContext scan_cxt;		/* values and chunk state, reset on rescan */
	MemoryContext page_cxt;		/* the current page, reset per call */

	bool		started;
	bool		browse_all;		/* no filter: every record, page by page */
	bool		browse_done;	/* its one listing has been started */
	json_object *injected_key;	/* the chunk's key, for records without it */
	List	   *values;			/* char * */
	int			next_value;		/* first value of the next chunk */
	char	   *chunk_values;	/* comma-joined values of current chunk */
	char	   *next_page_token;
	HTAB	   *seen_ids;		/* SeenRecord: records returned so far */

	json_object *page;
	int			page_len;
	int			page_pos;

	uint64		calls;			/* for EXPLAIN ANALYZE */
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

void
marketoBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	MktoScanState *st;
	const MktoObjectDesc *obj;
	int			key_mode;
	int			range_bounds;
	int			next_expr = 0;

	/* Plain EXPLAIN reads the plan only: no state, no Marketo call. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st = palloc0(sizeof(MktoScanState));
	node->fdw_state = st;
	st->opts = mkto_get_table_options(RelationGetRelid(node->ss.ss_currentRelation),
									  scan_user(node));
	obj = st->opts->object;
	st->filter_field = strVal(list_nth(fsplan->fdw_private, MktoScanFilterField));
	st->is_array = intVal(list_nth(fsplan->fdw_private, MktoScanFilterIsArray)) != 0;
	st->fields = (List *) list_nth(fsplan->fdw_private, MktoScanFields);
	key_mode = intVal(list_nth(fsplan->fdw_private, MktoScanKeyIsArray));
	range_bounds = intVal(list_nth(fsplan->fdw_private, MktoScanRangeBounds));
	st->ntuples = intVal(list_nth(fsplan->fdw_private, MktoScanCompoundTuples));
	check_planned_calls(st->opts,
						floatVal(list_nth(fsplan->fdw_private, MktoScanPlannedCalls)),
						intVal(list_nth(fsplan->fdw_private, MktoScanCallsEstimated)) != 0);

	st->mode = st->filter_field[0] != '\0' ? SCAN_VALUES
		: st->ntuples > 0 ? SCAN_COMPOUND
		: range_bounds ? SCAN_RANGE
		: obj->parent_keyed ? SCAN_LISTING : SCAN_BROWSE;
	st->browse_all = st->mode == SCAN_BROWSE;
	if (obj->parent_keyed && key_mode < 0)
	{
		MktoColumn *key_column = mkto_column_by_field(st->opts, obj->injected_key_field);

		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("a scan of foreign table \"%s\" needs a condition on column \"%s\"",
						st->opts->relname,
						key_column ? key_column->attname : obj->injected_key_field),
				 errdetail("Marketo's REST API reads %s within one %s at a time.",
						   obj->name, obj->injected_key_field),
				 errhint("Add WHERE %s = value, IN (...) or = ANY(...).",
						 key_column ? key_column->attname : obj->injected_key_field)));
	}
	if (st->browse_all && !obj->browse)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("a scan of foreign table \"%s\" needs a filter Marketo can apply",
						st->opts->relname),
				 st->opts->object->get_by_key_path
				 ? errdetail("Marketo's REST API reads %s one %s at a time.",
							 st->opts->object->name, st->opts->object->injected_key_field
							 ? st->opts->object->injected_key_field : st->opts->object->id_field)
				 : errdetail("Marketo's REST API reads %s only by filterType/filterValues.",
							 st->opts->object->name),
				 errhint("Add WHERE column = value, IN (...) or = ANY(...) on one of these columns: %s.",
						 mkto_searchable_columns(st->opts))));

	st->client = mkto_connect(st->opts);

	/* Fields: the columns used, plus the id to drop repeated records. */
	st->nfields = list_length(st->fields);
	st->converters = mkto_converters_for(st->opts,
										 (List *) list_nth(fsplan->fdw_private, MktoScanAttnums),
										 &st->attnums);
	if (!list_member(st->fields, makeString((char *) st->opts->object->id_field)))
		st->fields = lappend(list_copy(st->fields),
							 makeString((char *) st->opts->object->id_field));
	{
		/* The injected key is in the path, not a field of the records. */
		List	   *requested = NIL;
		ListCell   *lc;

		foreach(lc, st->fields)
		{
			if (!st->opts->object->injected_key_field ||
				strcmp(strVal(lfirst(lc)), st->opts->object->injected_key_field) != 0)
				requested = lappend(requested, lfirst(lc));
		}
		st->fields_param = mkto_fields_param(requested);
	}

	if (key_mode >= 0)
	{
		Expr	   *expr = list_nth(fsplan->fdw_exprs, next_expr++);

		st->key_state = ExecInitExpr(expr, (PlanState *) node);
		st->key_is_array = key_mode == 1;
		st->key_type = st->key_is_array ? get_element_type(exprType((Node *) expr))
			: exprType((Node *) expr);
	}
	if (st->mode == SCAN_VALUES)
	{
		Expr	   *expr = list_nth(fsplan->fdw_exprs, next_expr++);

		st->value_state = ExecInitExpr(expr, (PlanState *) node);
		st->value_type = exprType((Node *) expr);
		if (st->is_array)
			st->value_type = get_element_type(st->value_type);
	}
	else if (st->mode == SCAN_RANGE)
	{
		st->filter_field = (char *) obj->range_field;
		if (range_bounds & MKTO_RANGE_LOWER)
			st->lo_state = ExecInitExpr(list_nth(fsplan->fdw_exprs, next_expr++),
										(PlanState *) node);
		if (range_bounds & MKTO_RANGE_UPPER)
			st->hi_state = ExecInitExpr(list_nth(fsplan->fdw_exprs, next_expr++),
										(PlanState *) node);
	}
	else if (st->mode == SCAN_LISTING)
		st->filter_field = (char *) obj->filter_field_for_listing;
	else if (st->mode == SCAN_COMPOUND)
	{
		int			nfields = 0;

		while (obj->dedupe_fields[nfields])
			nfields++;
		st->key_converters = palloc0(sizeof(MktoConverter) * nfields);
		for (int i = 0; i < nfields; i++)
			mkto_converter_init(&st->key_converters[i],
								mkto_column_by_field(st->opts, obj->dedupe_fields[i]),
								st->opts->relname);
		st->tuple_states = palloc(sizeof(ExprState *) * st->ntuples * nfields);
		for (int i = 0; i < st->ntuples * nfields; i++)
			st->tuple_states[i] = ExecInitExpr(list_nth(fsplan->fdw_exprs, next_expr++),
											   (PlanState *) node);
	}

	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "marketo_fdw scan",
										 ALLOCSET_DEFAULT_SIZES);
	st->listing_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"marketo_fdw listing",
											ALLOCSET_SMALL_SIZES);
	st->chunk_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "marketo_fdw chunk",
										  ALLOCSET_SMALL_SIZES);
	st->page_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "marketo_fdw page",
										 ALLOCSET_DEFAULT_SIZES);
}

/*
 * Evaluates the filter expression into the distinct values to send,
 * trimmed of surrounding blanks as Marketo stores them.  Repeats are
 * dropped only when exactly equal: some fields (Salesforce ids) compare
 * case-sensitively.  The local recheck keeps SQL's semantics.
 */
static List *
compute_filter_values(ForeignScanState *node, MktoScanState *st,
					  ExprState *state, Oid type, bool is_array, const char *field)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
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

	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
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

		if (strchr(trimmed, ',') != NULL)
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

static void fetch_listing_page(MktoScanState *st);

/* The next startAt/endAt window; false after the last. */
static bool
next_window(MktoScanState *st)
{
	TimestampTz window = (TimestampTz) st->opts->object->range_max_days * USECS_PER_DAY;
	TimestampTz end;
	MemoryContext oldcxt;

	if (st->range_done || st->window_start > st->range_end)
		return false;
	end = st->range_end - st->window_start > window ? st->window_start + window
		: st->range_end;
	oldcxt = MemoryContextSwitchTo(st->chunk_cxt);
	st->window_text[0] = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(st->window_start));
	st->window_text[1] = mkto_datum_to_text(TIMESTAMPTZOID, TimestampTzGetDatum(end));
	MemoryContextSwitchTo(oldcxt);
	/* Windows share their boundary second, in case endAt is exclusive. */
	st->window_start = end;
	st->range_done = end == st->range_end;
	return true;
}

/* The next chunk of compound key tuples, as a JSON input array. */
static bool
next_tuple_chunk(MktoScanState *st)
{
	int			n = (int) json_object_array_length(st->inputs);
	int			limit = st->opts->object->max_filter_values;
	MemoryContext oldcxt;

	if (st->next_value >= n)
		return false;
	oldcxt = MemoryContextSwitchTo(st->chunk_cxt);
	st->chunk_input = mkto_track_json(json_object_new_array());
	for (int i = st->next_value; i < n && i < st->next_value + limit; i++)
		json_object_array_add(st->chunk_input,
							  json_object_get(json_object_array_get_idx(st->inputs, i)));
	st->next_value += limit;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Evaluates the compound key tuples into distinct input records.  A tuple
 * with a NULL matches nothing and is left out.
 */
static void
compute_tuples(ForeignScanState *node, MktoScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	const char *const *fields = st->opts->object->dedupe_fields;
	int			nfields = 0;
	HTAB	   *seen;
	HASHCTL		ctl = {0};
	MemoryContext oldcxt;

	while (fields[nfields])
		nfields++;
	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	ctl.keysize = MKTO_TUPLE_KEY_LEN;
	ctl.entrysize = ctl.keysize;
	ctl.hcxt = st->scan_cxt;
	seen = hash_create("marketo_fdw key tuples", 64, &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	st->inputs = mkto_track_json(json_object_new_array());
	for (int t = 0; t < st->ntuples; t++)
	{
		json_object *record = json_object_new_object();
		bool		has_null = false;
		bool		found;
		const char *text;

		json_object_array_add(st->inputs, record);	/* owned from here on */
		for (int f = 0; f < nfields; f++)
		{
			bool		isnull;
			Datum		value = ExecEvalExpr(st->tuple_states[t * nfields + f], econtext,
											 &isnull);

			if (isnull)
			{
				has_null = true;
				break;
			}
			json_object_object_add(record, fields[f],
								   mkto_datum_to_json(&st->key_converters[f], value, false));
		}
		text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN);
		found = false;
		/* a longer tuple is sent even if repeated: truncating could merge two */
		if (!has_null && strlen(text) < MKTO_TUPLE_KEY_LEN)
			hash_search(seen, text, HASH_ENTER, &found);
		if (has_null || found)
			json_object_array_del_idx(st->inputs,
									  json_object_array_length(st->inputs) - 1, 1);
	}
	MemoryContextSwitchTo(oldcxt);
}

/* The next chunk of the current pass; false when the pass is over. */
static bool
next_chunk_in_pass(MktoScanState *st)
{
	StringInfoData buf;
	int			limit = st->opts->object->max_filter_values;
	MemoryContext oldcxt;

	MemoryContextReset(st->chunk_cxt);
	switch (st->mode)
	{
		case SCAN_BROWSE:
			if (st->browse_done)
				return false;
			st->browse_done = true;
			return true;
		case SCAN_RANGE:
			return next_window(st);
		case SCAN_COMPOUND:
			return next_tuple_chunk(st);
		case SCAN_LISTING:
			while (st->next_value >= list_length(st->values))
			{
				if (st->listing_done)
					return false;
				fetch_listing_page(st);
			}
			break;
		case SCAN_VALUES:
			if (st->next_value >= list_length(st->values))
				return false;
			break;
	}

	oldcxt = MemoryContextSwitchTo(st->chunk_cxt);
	initStringInfo(&buf);
	for (int i = st->next_value; i < list_length(st->values) && i < st->next_value + limit; i++)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "",
						 (char *) list_nth(st->values, i));
	st->next_value += limit;
	st->chunk_values = buf.data;
	if (st->opts->object->injected_key_field && !st->opts->object->parent_keyed)
		st->injected_key = mkto_track_json(json_object_new_string(buf.data));
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Starts the pass over the next parent key; objects without one make a
 * single pass.  False when no pass is left.
 */
static bool
start_pass(MktoScanState *st)
{
	MemoryContext oldcxt;

	if (!st->opts->object->parent_keyed)
	{
		if (st->next_key > 0)
			return false;
		st->next_key = 1;
	}
	else
	{
		if (st->next_key >= list_length(st->keys))
			return false;
		st->cur_key = list_nth(st->keys, st->next_key++);
		oldcxt = MemoryContextSwitchTo(st->scan_cxt);
		st->injected_key = mkto_track_json(json_object_new_string(st->cur_key));
		MemoryContextSwitchTo(oldcxt);
	}
	st->pass_open = true;
	st->browse_done = false;
	st->listing_done = false;
	st->listing_token = NULL;
	if (st->mode == SCAN_LISTING)
		st->values = NIL;
	st->next_value = 0;
	st->window_start = st->range_start;
	st->range_done = false;
	return true;
}

/* Moves to the next chunk of values; false when none are left. */
static bool
next_chunk(MktoScanState *st)
{
	for (;;)
	{
		if (st->pass_open && next_chunk_in_pass(st))
			return true;
		st->pass_open = false;
		if (!start_pass(st))
			return false;
	}
}

/* Sends a read and checks that its result is a list of records. */
static MktoResponse *
read_call(MktoScanState *st, MktoRequest *req)
{
	MktoResponse *resp;

	req->method = MKTO_GET;
	req->timeout_ms = st->opts->object->query_timeout_ms;
	req->idempotent = true;
	resp = mkto_call(st->client, req);
	st->calls++;
	if (resp->result != NULL && !json_object_is_type(resp->result, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: \"result\" is not an array"),
				 errdetail("Request: GET /rest%s.", req->path)));
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
static char *
page_token_of(MktoResponse *resp, const char *path, const char *previous,
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

static void
fetch_page(MktoScanState *st)
{
	const MktoObjectDesc *obj = st->opts->object;
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;
	MemoryContext oldcxt;
	char		batch[16];

	MemoryContextReset(st->page_cxt);
	oldcxt = MemoryContextSwitchTo(st->page_cxt);

	initStringInfo(&query);
	req.path = obj->query_path;
	if (obj->parent_keyed)
	{
		/* the parent in the path; a filter, window or listed ids within it */
		req.path = mkto_path_with_key(obj->query_path, st->cur_key);
		mkto_append_query_param(&query, "filterType", st->filter_field);
		if (st->mode == SCAN_RANGE)
		{
			mkto_append_query_param(&query, "startAt", st->window_text[0]);
			mkto_append_query_param(&query, "endAt", st->window_text[1]);
		}
		else
			mkto_append_query_param(&query, "filterValues", st->chunk_values);
		if (st->mode != SCAN_LISTING)
		{
			req.hint_code = "1003";
			req.hint = obj->query_limit_hint;
		}
		if (obj->takes_fields)
			mkto_append_query_param(&query, "fields", st->fields_param);
		snprintf(batch, sizeof(batch), "%d", obj->page_size);
		mkto_append_query_param(&query, "batchSize", batch);
		if (st->next_page_token)
			mkto_append_query_param(&query, "nextPageToken", st->next_page_token);
	}
	else if (st->mode == SCAN_COMPOUND)
	{
		/* a GET with a JSON body: the client sends POST ?_method=GET */
		json_object *body = mkto_track_json(json_object_new_object());
		json_object *fields = json_object_new_array();
		ListCell   *lc;

		json_object_object_add(body, "filterType", json_object_new_string("dedupeFields"));
		json_object_object_add(body, "fields", fields);
		foreach(lc, st->fields)
			json_object_array_add(fields, json_object_new_string(strVal(lfirst(lc))));
		json_object_object_add(body, "input", json_object_get(st->chunk_input));
		/* paging repeats the whole input with the token */
		if (st->next_page_token)
			json_object_object_add(body, "nextPageToken",
								   json_object_new_string(st->next_page_token));
		req.json_body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	}
	else if (!st->browse_all && obj->get_by_key_path)
	{
		/* one value a chunk, in the path */
		req.path = mkto_path_with_key(obj->get_by_key_path, st->chunk_values);
		if (obj->takes_fields)
			mkto_append_query_param(&query, "fields", st->fields_param);
		if (obj->key_path_paged)
		{
			snprintf(batch, sizeof(batch), "%d", obj->page_size);
			mkto_append_query_param(&query, "batchSize", batch);
			if (st->next_page_token)
				mkto_append_query_param(&query, "nextPageToken", st->next_page_token);
		}
	}
	else
	{
		if (!st->browse_all)
		{
			mkto_append_query_param(&query, "filterType", st->filter_field);
			mkto_append_query_param(&query, "filterValues", st->chunk_values);
		}
		if (obj->takes_fields)
			mkto_append_query_param(&query, "fields", st->fields_param);
		snprintf(batch, sizeof(batch), "%d", obj->page_size);
		mkto_append_query_param(&query, "batchSize", batch);
		if (st->next_page_token)
			mkto_append_query_param(&query, "nextPageToken", st->next_page_token);
	}

	req.query = query.data;
	resp = read_call(st, &req);
	st->page = resp->result;
	if (st->page && obj->result_member)
	{
		/* the records are a list inside the first (only) result */
		json_object *parent = json_object_array_length(st->page) > 0
			? json_object_array_get_idx(st->page, 0) : NULL;
		json_object *member = NULL;

		if (parent == NULL || !json_object_object_get_ex(parent, obj->result_member, &member) ||
			!json_object_is_type(member, json_type_array))
			member = NULL;
		st->page = member;
	}
	st->page_len = st->page ? (int) json_object_array_length(st->page) : 0;
	st->page_pos = 0;

	{
		char	   *previous = st->next_page_token;

		st->next_page_token = page_token_of(resp, req.path, previous, st->scan_cxt);
		if (previous)
			pfree(previous);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The ids of the next page of the parent's listing, as the values of the
 * following chunks.
 */
static void
fetch_listing_page(MktoScanState *st)
{
	const MktoObjectDesc *obj = st->opts->object;
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;
	MemoryContext oldcxt;
	char		batch[16];
	char	   *token;
	int			n;

	/* the token lives in listing_cxt: keep it across the reset */
	token = st->listing_token ? MemoryContextStrdup(st->chunk_cxt, st->listing_token) : NULL;
	MemoryContextReset(st->listing_cxt);
	oldcxt = MemoryContextSwitchTo(st->listing_cxt);
	initStringInfo(&query);
	mkto_append_query_param(&query, "fields", obj->listing_id_field);
	snprintf(batch, sizeof(batch), "%d", obj->page_size);
	mkto_append_query_param(&query, "batchSize", batch);
	if (token)
		mkto_append_query_param(&query, "nextPageToken", token);
	req.path = mkto_path_with_key(obj->listing_path, st->cur_key);
	req.query = query.data;
	resp = read_call(st, &req);
	st->values = NIL;
	st->next_value = 0;
	n = resp->result ? (int) json_object_array_length(resp->result) : 0;
	for (int i = 0; i < n; i++)
	{
		json_object *record = json_object_array_get_idx(resp->result, i);
		json_object *id;

		if (!json_object_is_type(record, json_type_object) ||
			!json_object_object_get_ex(record, obj->listing_id_field, &id) ||
			!(json_object_is_type(id, json_type_int) || json_object_is_type(id, json_type_string)))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo: a listed record has no \"%s\"",
							obj->listing_id_field),
					 errdetail("Request: GET /rest%s.", req.path)));
		st->values = lappend(st->values, pstrdup(json_object_get_string(id)));
	}
	st->listing_token = page_token_of(resp, req.path, token, st->listing_cxt);
	st->listing_done = st->listing_token == NULL;
	MemoryContextSwitchTo(oldcxt);
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

	if (!json_object_object_get_ex(record, st->opts->object->id_field, &id) ||
		!(json_object_is_type(id, json_type_int) ||
		  json_object_is_type(id, json_type_double) ||
		  json_object_is_type(id, json_type_string)))
		return false;
	/* ids are integers for some objects and GUID strings for others */
	scope = st->injected_key ? json_object_get_string(st->injected_key) : "";
	key = psprintf("%zu:%s/%s", strlen(scope), scope, json_object_get_string(id));
	entry = hash_search(st->seen_ids, &key, HASH_ENTER, &found);
	if (!found)
		entry->key = MemoryContextStrdup(st->scan_cxt, key);
	pfree(key);
	return found;
}

static void
store_record(MktoScanState *st, json_object *record, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	MemoryContext oldcxt = MemoryContextSwitchTo(st->page_cxt);
	ListCell   *lc;
	int			i = 0;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);

	foreach(lc, st->fields)
	{
		json_object *value = NULL;
		AttrNumber	attnum;

		if (i >= st->nfields)
			break;
		attnum = st->attnums[i];
		/* A requested field that is absent is null, as Marketo documents. */
		if (!json_object_object_get_ex(record, strVal(lfirst(lc)), &value) &&
			st->injected_key &&
			strcmp(strVal(lfirst(lc)), st->opts->object->injected_key_field) == 0)
			value = st->injected_key;
		slot->tts_values[attnum - 1] =
			mkto_json_to_datum(&st->converters[i], value,
							   &slot->tts_isnull[attnum - 1]);
		i++;
	}
	ExecStoreVirtualTuple(slot);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The whole seconds the range covers: the start rounded down, the end up
 * (now when not given).  A NULL bound matches nothing: an empty range.
 */
static void
start_range(ForeignScanState *node, MktoScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	bool		lo_null;
	bool		hi_null = false;
	TimestampTz lo = DatumGetTimestampTz(ExecEvalExpr(st->lo_state, econtext, &lo_null));
	TimestampTz hi = st->hi_state
		? DatumGetTimestampTz(ExecEvalExpr(st->hi_state, econtext, &hi_null))
		: GetCurrentTimestamp();

	/* Nothing was updated in the future. */
	if (!hi_null && TIMESTAMP_IS_NOBEGIN(hi) == false && TIMESTAMP_NOT_FINITE(hi))
		hi = GetCurrentTimestamp();
	if (!lo_null && TIMESTAMP_IS_NOBEGIN(lo))
	{
		/* no start: list the parent instead */
		st->mode = SCAN_LISTING;
		st->filter_field = (char *) st->opts->object->filter_field_for_listing;
		return;
	}
	if (lo_null || hi_null || TIMESTAMP_NOT_FINITE(lo) || TIMESTAMP_NOT_FINITE(hi))
	{
		st->range_start = 1;
		st->range_end = 0;		/* empty */
		return;
	}
	st->range_start = lo - ((lo % USECS_PER_SEC) + USECS_PER_SEC) % USECS_PER_SEC;
	if (hi % USECS_PER_SEC != 0)
		hi += USECS_PER_SEC - ((hi % USECS_PER_SEC) + USECS_PER_SEC) % USECS_PER_SEC;
	st->range_end = hi;
}

/*
 * The fewest calls this run of the scan can make, its values known: one
 * page per chunk (or window, or listing) of every pass.
 */
static int64
scan_min_calls(MktoScanState *st)
{
	const MktoObjectDesc *obj = st->opts->object;
	int64		limit = obj->max_filter_values;
	int64		passes = obj->parent_keyed ? list_length(st->keys) : 1;
	int64		per_pass = 1;

	switch (st->mode)
	{
		case SCAN_VALUES:
			per_pass = (list_length(st->values) + limit - 1) / limit;
			break;
		case SCAN_COMPOUND:
			per_pass = ((int64) json_object_array_length(st->inputs) + limit - 1) / limit;
			break;
		case SCAN_RANGE:
			{
				TimestampTz window = (TimestampTz) obj->range_max_days * USECS_PER_DAY;
				TimestampTz span = st->range_end - st->range_start;

				/* as next_window() cuts it */
				per_pass = span < 0 ? 0 : Max(1, (span + window - 1) / window);
				break;
			}
		case SCAN_LISTING:
		case SCAN_BROWSE:
			break;
	}
	return passes * per_pass;
}

/*
 * Refuses, before its first call, a run of the scan that cannot fit in
 * what is left of the statement's call budget, now that its values (from
 * parameters, subqueries or the outer row) are known.
 */
static void
check_scan_calls(MktoScanState *st)
{
	int			budget = mkto_max_calls_per_statement();
	int64		made;
	int64		needed;

	if (budget <= 0)
		return;
	needed = scan_min_calls(st);
	made = mkto_statement_calls();
	if (needed > 0 && made + needed > budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg_plural("the scan of foreign table \"%s\" needs at least %lld Marketo call, more than marketo_fdw.max_calls_per_statement (%d) leaves",
							   "the scan of foreign table \"%s\" needs at least %lld Marketo calls, more than marketo_fdw.max_calls_per_statement (%d) leaves",
							   (unsigned long) needed,
							   st->opts->relname, (long long) needed, budget),
				 made > 0
				 ? errdetail("The statement has made %lld Marketo calls already. Marketo counts every call against the instance's daily quota.",
							 (long long) made)
				 : errdetail("Marketo counts every call against the instance's daily quota."),
				 errhint("Narrow the query, or raise marketo_fdw.max_calls_per_statement for this session.")));
}

static void
start_scan(ForeignScanState *node, MktoScanState *st)
{
	MemoryContextReset(st->scan_cxt);
	MemoryContextReset(st->page_cxt);
	MemoryContextReset(st->chunk_cxt);
	MemoryContextReset(st->listing_cxt);
	st->next_page_token = NULL;
	st->page = NULL;
	st->page_len = st->page_pos = 0;
	st->next_value = 0;
	st->browse_done = false;
	st->injected_key = NULL;
	st->cur_key = NULL;
	st->next_key = 0;
	st->pass_open = false;
	st->values = st->mode != SCAN_VALUES ? NIL
		: compute_filter_values(node, st, st->value_state, st->value_type,
								st->is_array, st->filter_field);
	if (st->mode == SCAN_COMPOUND)
		compute_tuples(node, st);
	if (st->key_state)
		st->keys = compute_filter_values(node, st, st->key_state, st->key_type,
										 st->key_is_array,
										 st->opts->object->injected_key_field);
	if (st->lo_state)
	{
		/* the range may have turned into a listing on a previous run */
		st->mode = SCAN_RANGE;
		st->filter_field = (char *) st->opts->object->range_field;
		start_range(node, st);
	}
	st->seen_ids = create_seen_records(st->scan_cxt);
	check_scan_calls(st);
	st->started = true;
}

TupleTableSlot *
marketoIterateForeignScan(ForeignScanState *node)
{
	MktoScanState *st = (MktoScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (!st->started)
		start_scan(node, st);

	for (;;)
	{
		while (st->page_pos < st->page_len)
		{
			json_object *record = json_object_array_get_idx(st->page, st->page_pos++);

			if (!json_object_is_type(record, json_type_object))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("malformed response from Marketo: a result record is not an object"),
						 errdetail("Request: GET %s.", st->opts->object->query_path)));
			if (seen_before(st, record))
				continue;
			store_record(st, record, slot);
			return slot;
		}

		CHECK_FOR_INTERRUPTS();
		if (st->next_page_token == NULL && !next_chunk(st))
			break;
		fetch_page(st);
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
	/* Memory contexts go with the query; json is freed by their reset. */
}

void
marketoExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	MktoScanState *st = (MktoScanState *) node->fdw_state;
	char	   *field = strVal(list_nth(fsplan->fdw_private, MktoScanFilterField));
	bool		is_array = intVal(list_nth(fsplan->fdw_private, MktoScanFilterIsArray)) != 0;
	int			known = intVal(list_nth(fsplan->fdw_private, MktoScanFilterKnownValues));
	List	   *fields = (List *) list_nth(fsplan->fdw_private, MktoScanFields);
	const MktoObjectDesc *obj =
		mkto_table_object(RelationGetRelid(node->ss.ss_currentRelation));

	int			key_mode = intVal(list_nth(fsplan->fdw_private, MktoScanKeyIsArray));
	int			key_known = intVal(list_nth(fsplan->fdw_private, MktoScanKeyKnownValues));
	int			range_bounds = intVal(list_nth(fsplan->fdw_private, MktoScanRangeBounds));
	int			ntuples = intVal(list_nth(fsplan->fdw_private, MktoScanCompoundTuples));
	double		planned = floatVal(list_nth(fsplan->fdw_private, MktoScanPlannedCalls));
	bool		calls_estimated = intVal(list_nth(fsplan->fdw_private, MktoScanCallsEstimated)) != 0;

	ExplainPropertyText("Marketo Object", obj->name, es);
	if (es->format == EXPLAIN_FORMAT_TEXT && calls_estimated)
		ExplainPropertyText("Marketo Planned Calls",
							psprintf("%.0f (estimate)", planned), es);
	else
		ExplainPropertyFloat("Marketo Planned Calls", NULL, planned, 0, es);
	if (es->format != EXPLAIN_FORMAT_TEXT)
		ExplainPropertyBool("Marketo Planned Calls Estimated", calls_estimated, es);
	if (obj->parent_keyed)
	{
		ExplainPropertyText("Marketo Parent",
							key_mode < 0 ? "none (cannot be executed)"
							: key_known >= 0
							? psprintf("%s, %d value%s, one call series per value",
									   obj->injected_key_field, key_known,
									   key_known == 1 ? "" : "s")
							: psprintf("%s, values from %s", obj->injected_key_field,
									   key_mode == 1 ? "an array parameter" : "a parameter"),
							es);
		if (field[0] == '\0' && range_bounds)
			ExplainPropertyText("Marketo Filter",
								psprintf("filterType=%s, startAt/endAt in windows of at most %d days",
										 obj->range_field, obj->range_max_days), es);
		else if (field[0] == '\0')
			ExplainPropertyText("Marketo Filter",
								psprintf("none: ids listed by GET /rest%s, then filterType=%s",
										 mkto_shown_path(obj, obj->listing_path),
										 obj->filter_field_for_listing), es);
	}
	if (obj->parent_keyed && field[0] == '\0')
	{
		/* the range or listing is described above */
	}
	else if (ntuples > 0)
		ExplainPropertyText("Marketo Filter",
							psprintf("filterType=dedupeFields (%s), %d key%s, sent as POST ?_method=GET",
									 mkto_join_names(obj->dedupe_fields), ntuples,
									 ntuples == 1 ? "" : "s"), es);
	else if (field[0] == '\0')
		ExplainPropertyText("Marketo Filter",
							obj->browse ? "none (every record, page by page)"
							: "none (cannot be executed)", es);
	else if (obj->get_by_key_path)
		ExplainPropertyText("Marketo Filter",
							psprintf("%s, one call per value", field), es);
	else if (known >= 0)
		ExplainPropertyText("Marketo Filter",
							psprintf("filterType=%s, %d value%s", field, known,
									 known == 1 ? "" : "s"), es);
	else
		ExplainPropertyText("Marketo Filter",
							psprintf("filterType=%s, values from %s", field,
									 is_array ? "an array parameter" : "a parameter"),
							es);
	if (obj->takes_fields)
		ExplainPropertyText("Marketo Fields",
							fields ? mkto_fields_param(fields) : "(none)", es);
	if (es->verbose)
		ExplainPropertyText("Marketo Request",
							ntuples > 0 ? psprintf("POST /rest%s?_method=GET", obj->query_path)
							: psprintf("GET /rest%s", mkto_shown_path(obj, obj->query_path)), es);
	if (es->analyze && st)
		ExplainPropertyInteger("Marketo Calls", NULL, (int64) st->calls, es);
}

/*-------------------------------------------------------------------------
 *
 * marketo_fdw.c
 *		  Handler, planning and scanning for marketo_fdw.
 *
 * A scan is one or more filterType/filterValues queries: the values come
 * from one pushable WHERE clause (see deparse.c), are split into chunks of
 * the object's filter limit, and each chunk's pages are followed with
 * nextPageToken.  Marketo cannot list a whole lead database through this
 * API, so an unfiltered plan is priced out of the planner's choice and
 * fails clearly if it is chosen anyway.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
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
#include "utils/formatting.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "marketo_fdw.h"

PG_MODULE_MAGIC;

/* Planner cost of one Marketo call: a network round trip of ~100 ms. */
#define MKTO_CALL_COST			1000.0
#define MKTO_ROW_COST			0.01
/* Rows a filter value is assumed to match, when nothing better is known. */
#define MKTO_ROWS_PER_VALUE		1
#define MKTO_UNKNOWN_VALUES		10
/* Room for a record id as text: integers and 36-character GUIDs. */
#define MKTO_ID_KEY_LEN			64

/* Planner state in baserel->fdw_private. */
typedef struct MktoRelInfo
{
	MktoTableOptions *opts;
	bool		has_base_filter;
	MktoFilterQual base_filter;
} MktoRelInfo;

/* Indexes into ForeignScan.fdw_private. */
enum MktoScanPrivateIndex
{
	MktoScanFilterField,		/* String: REST field, "" for none */
	MktoScanFilterIsArray,		/* Integer: 1 for = ANY(array) */
	MktoScanFilterKnownValues,	/* Integer: values known at plan time, or -1 */
	MktoScanFields,				/* List of String: REST fields requested */
	MktoScanAttnums				/* IntList: column of each field, 0 for none */
};

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
	bool		dedupe_ids;		/* more than one chunk: drop repeated ids */
	HTAB	   *seen_ids;

	json_object *page;
	int			page_len;
	int			page_pos;

	uint64		calls;			/* for EXPLAIN ANALYZE */
} MktoScanState;

PG_FUNCTION_INFO_V1(marketo_fdw_handler);
PG_FUNCTION_INFO_V1(marketo_fdw_backend_calls);

/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

/*
 * The better of two filters: the id (exact, one record a value), then the
 * one with fewer values.
 */
static bool
filter_is_better(MktoTableOptions *opts, MktoFilterQual *a, MktoFilterQual *b)
{
	bool		a_id = strcmp(a->column->field, opts->object->id_field) == 0;
	bool		b_id = strcmp(b->column->field, opts->object->id_field) == 0;
	int			a_n = a->known_values < 0 ? MKTO_UNKNOWN_VALUES : a->known_values;
	int			b_n = b->known_values < 0 ? MKTO_UNKNOWN_VALUES : b->known_values;

	if (a_id != b_id)
		return a_id;
	return a_n < b_n;
}

/*
 * Picks the filter among clauses.  When outer_only, only clauses that
 * reference other relations count (the join clause of a parameterized
 * path).
 */
static bool
choose_filter(PlannerInfo *root, RelOptInfo *baserel, MktoTableOptions *opts,
			  List *clauses, bool outer_only, MktoFilterQual *best)
{
	bool		found = false;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		MktoFilterQual candidate;

		if (outer_only && bms_is_subset(rinfo->clause_relids, baserel->relids))
			continue;
		if (!mkto_filter_qual(root, baserel, opts, rinfo, &candidate))
			continue;
		if (!found || filter_is_better(opts, &candidate, best))
		{
			*best = candidate;
			found = true;
		}
	}
	return found;
}

static double
filter_rows(MktoFilterQual *filter)
{
	int			n = filter->known_values < 0 ? MKTO_UNKNOWN_VALUES : filter->known_values;

	return Max(1.0, (double) n * MKTO_ROWS_PER_VALUE);
}

static Cost
filter_cost(MktoTableOptions *opts, MktoFilterQual *filter, double rows)
{
	int			n = filter->known_values < 0 ? MKTO_UNKNOWN_VALUES : filter->known_values;
	int			calls = Max(1, (n + opts->object->max_filter_values - 1) /
							opts->object->max_filter_values);

	return calls * MKTO_CALL_COST + rows * MKTO_ROW_COST;
}

static void
marketoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	MktoRelInfo *relinfo = palloc0(sizeof(MktoRelInfo));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();

	relinfo->opts = mkto_get_table_options(foreigntableid, userid);
	baserel->fdw_private = relinfo;

	relinfo->has_base_filter = choose_filter(root, baserel, relinfo->opts,
											 baserel->baserestrictinfo, false,
											 &relinfo->base_filter);
	/* Rows of an unfiltered scan are unknowable; it cannot run anyway. */
	baserel->rows = relinfo->has_base_filter
		? filter_rows(&relinfo->base_filter) : 1000;
}

/* For generate_implied_equalities_for_column: EC members on one column. */
typedef struct ColumnMatchArg
{
	AttrNumber	attnum;
} ColumnMatchArg;

static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel,
					EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	Expr	   *expr = em->em_expr;

	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return IsA(expr, Var) && ((Var *) expr)->varno == rel->relid &&
		((Var *) expr)->varattno == ((ColumnMatchArg *) arg)->attnum;
}

/* Join clauses that could drive a parameterized scan. */
static List *
candidate_join_clauses(PlannerInfo *root, RelOptInfo *baserel, MktoTableOptions *opts)
{
	List	   *clauses = list_copy(baserel->joininfo);

	for (int i = 0; i < opts->ncolumns; i++)
	{
		ColumnMatchArg arg = {opts->columns[i].attnum};

		if (opts->columns[i].field == NULL || !opts->columns[i].searchable)
			continue;
		clauses = list_concat(clauses,
							  generate_implied_equalities_for_column(root, baserel,
																	 ec_member_is_column,
																	 &arg,
																	 baserel->lateral_referencers));
	}
	return clauses;
}

static void
marketoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	MktoRelInfo *relinfo = (MktoRelInfo *) baserel->fdw_private;
	MktoTableOptions *opts = relinfo->opts;
	ListCell   *lc;
	Cost		startup,
				total;

	if (relinfo->has_base_filter)
	{
		startup = MKTO_CALL_COST;
		total = filter_cost(opts, &relinfo->base_filter, baserel->rows);
	}
	else if (opts->object->browse)
	{
		/* Listing every record is what these objects are read by. */
		startup = MKTO_CALL_COST;
		total = MKTO_CALL_COST + baserel->rows * MKTO_ROW_COST;
	}
	else
	{
		/* Price it out, so that a parameterized path wins when one exists. */
		startup = disable_cost;
		total = disable_cost + baserel->rows * MKTO_ROW_COST;
	}
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, total, NIL,
									 baserel->lateral_relids, NULL, NIL));

	/* One parameterized path per join clause Marketo can filter on. */
	foreach(lc, candidate_join_clauses(root, baserel, opts))
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		MktoFilterQual filter;
		Relids		required_outer;
		ParamPathInfo *param_info;
		double		rows;

		if (!mkto_filter_qual(root, baserel, opts, rinfo, &filter))
			continue;
		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;

		param_info = get_baserel_parampathinfo(root, baserel, required_outer);
		rows = filter_rows(&filter);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, rows,
										 MKTO_CALL_COST,
										 filter_cost(opts, &filter, rows),
										 NIL, param_info->ppi_req_outer,
										 NULL, NIL));
	}
}

static void
add_attrs(Bitmapset **attrs, Node *node, Index relid)
{
	pull_varattnos(node, relid, attrs);
}

static ForeignScan *
marketoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					  ForeignPath *best_path, List *tlist, List *scan_clauses,
					  Plan *outer_plan)
{
	MktoRelInfo *relinfo = (MktoRelInfo *) baserel->fdw_private;
	MktoTableOptions *opts = relinfo->opts;
	MktoFilterQual filter;
	bool		has_filter = false;
	List	   *fdw_exprs = NIL;
	List	   *fields = NIL;
	List	   *attnums = NIL;
	Bitmapset  *attrs = NULL;
	bool		whole_row;
	ListCell   *lc;

	/* A parameterized path is there for its join clause: use it. */
	if (best_path->path.param_info)
		has_filter = choose_filter(root, baserel, opts, scan_clauses, true, &filter);
	if (!has_filter)
		has_filter = choose_filter(root, baserel, opts, scan_clauses, false, &filter);
	if (has_filter)
		fdw_exprs = list_make1(filter.value_expr);

	/* Ask Marketo only for the columns the query uses. */
	add_attrs(&attrs, (Node *) baserel->reltarget->exprs, baserel->relid);
	foreach(lc, scan_clauses)
		add_attrs(&attrs, (Node *) lfirst_node(RestrictInfo, lc)->clause,
				  baserel->relid);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);

	for (int i = 0; i < opts->ncolumns; i++)
	{
		MktoColumn *col = &opts->columns[i];

		if (col->field == NULL)
			continue;
		if (whole_row ||
			bms_is_member(col->attnum - FirstLowInvalidHeapAttributeNumber, attrs))
		{
			fields = lappend(fields, makeString(col->field));
			attnums = lappend_int(attnums, col->attnum);
		}
	}

	/* Every pushed clause is also rechecked locally (see deparse.c). */
	scan_clauses = extract_actual_clauses(scan_clauses, false);

	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							list_make5(makeString(has_filter ? filter.column->field : ""),
									   makeInteger(has_filter && filter.is_array),
									   makeInteger(has_filter ? filter.known_values : 0),
									   fields, attnums),
							NIL, NIL, outer_plan);
}

/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

static Oid
scan_user(ForeignScanState *node)
{
#if PG_VERSION_NUM >= 160000
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;

	return OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	RangeTblEntry *rte = exec_rt_fetch(fsplan->scan.scanrelid, node->ss.ps.state);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

static void
marketoBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	MktoScanState *st;

	/* Plain EXPLAIN reads the plan only: no state, no Marketo call. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st = palloc0(sizeof(MktoScanState));
	node->fdw_state = st;
	st->opts = mkto_get_table_options(RelationGetRelid(node->ss.ss_currentRelation),
									  scan_user(node));
	st->filter_field = strVal(list_nth(fsplan->fdw_private, MktoScanFilterField));
	st->is_array = intVal(list_nth(fsplan->fdw_private, MktoScanFilterIsArray)) != 0;
	st->fields = (List *) list_nth(fsplan->fdw_private, MktoScanFields);

	st->browse_all = st->filter_field[0] == '\0';
	if (st->browse_all && !st->opts->object->browse)
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

	/* Fields: the columns used, plus the id to drop repeats across chunks. */
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

	if (!st->browse_all)
	{
		st->value_state = ExecInitExpr(linitial(fsplan->fdw_exprs), (PlanState *) node);
		st->value_type = exprType(linitial(fsplan->fdw_exprs));
		if (st->is_array)
			st->value_type = get_element_type(st->value_type);
	}

	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "marketo_fdw scan",
										 ALLOCSET_DEFAULT_SIZES);
	st->page_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "marketo_fdw page",
										 ALLOCSET_DEFAULT_SIZES);
}

typedef struct FilterValue
{
	char	   *key;			/* how Marketo compares it */
	char	   *value;			/* what is sent */
} FilterValue;

static int
filter_value_cmp(const void *a, const void *b)
{
	const FilterValue *va = (const FilterValue *) a;
	const FilterValue *vb = (const FilterValue *) b;
	int			cmp = strcmp(va->key, vb->key);

	/* ties broken by the value itself, so the value sent is deterministic */
	return cmp != 0 ? cmp : strcmp(va->value, vb->value);
}

/*
 * Evaluates the filter expression into the distinct values to send.
 * Values Marketo would match alike (case, surrounding blanks) are sent
 * once; the local recheck keeps SQL's semantics.
 */
static List *
compute_filter_values(ForeignScanState *node, MktoScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	Datum		datum;
	bool		isnull;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	FilterValue *vals;
	int			nvals = 0;
	List	   *result = NIL;
	MemoryContext oldcxt;

	datum = ExecEvalExpr(st->value_state, econtext, &isnull);
	if (isnull)
		return NIL;

	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	if (st->is_array)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(st->value_type, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(datum), st->value_type, typlen,
						  typbyval, typalign, &elems, &nulls, &n);
	}
	else
	{
		elems = &datum;
		nulls = &isnull;
		n = 1;
	}

	vals = palloc(sizeof(FilterValue) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		char	   *text;
		char	   *trimmed;
		size_t		len;

		if (nulls[i])
			continue;			/* = NULL matches nothing */
		text = mkto_datum_to_text(st->value_type, elems[i]);
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
							st->filter_field),
					 errdetail("Value: \"%s\". Marketo's filterValues parameter is comma-separated and has no escape.",
							   trimmed),
					 errhint("Filter on another searchable column; this condition will then be checked locally.")));

		vals[nvals].value = trimmed;
		vals[nvals].key = str_tolower(trimmed, len, DEFAULT_COLLATION_OID);
		nvals++;
	}

	qsort(vals, nvals, sizeof(FilterValue), filter_value_cmp);
	for (int i = 0; i < nvals; i++)
	{
		if (i > 0 && strcmp(vals[i].key, vals[i - 1].key) == 0)
			continue;
		result = lappend(result, vals[i].value);
	}
	MemoryContextSwitchTo(oldcxt);
	return result;
}

/* Joins the next chunk of values; false when none are left. */
static bool
next_chunk(MktoScanState *st)
{
	StringInfoData buf;
	int			limit = st->opts->object->max_filter_values;
	int			n = list_length(st->values);
	MemoryContext oldcxt;

	if (st->browse_all)
	{
		if (st->browse_done)
			return false;
		st->browse_done = true;
		return true;
	}
	if (st->next_value >= n)
		return false;

	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	initStringInfo(&buf);
	for (int i = st->next_value; i < n && i < st->next_value + limit; i++)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "",
						 (char *) list_nth(st->values, i));
	st->next_value += limit;
	st->chunk_values = buf.data;
	if (st->opts->object->injected_key_field)
		st->injected_key = mkto_track_json(json_object_new_string(buf.data));
	MemoryContextSwitchTo(oldcxt);
	return true;
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
	if (!st->browse_all && obj->get_by_key_path)
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

	req.method = MKTO_GET;
	req.query = query.data;
	req.timeout_ms = obj->query_timeout_ms;
	req.idempotent = true;
	resp = mkto_call(st->client, &req);
	st->calls++;

	if (resp->result != NULL && !json_object_is_type(resp->result, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: \"result\" is not an array"),
				 errdetail("Request: GET %s.", obj->query_path)));
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

	MemoryContextSwitchTo(st->scan_cxt);
	if (st->next_page_token)
		pfree(st->next_page_token);
	st->next_page_token = NULL;
	if (resp->more_result)
	{
		if (resp->next_page_token == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo: moreResult without nextPageToken"),
					 errdetail("Request: GET %s.", obj->query_path)));
		st->next_page_token = pstrdup(resp->next_page_token);
	}
	MemoryContextSwitchTo(oldcxt);
}

/* True when this record's id was already returned by an earlier chunk. */
static bool
seen_before(MktoScanState *st, json_object *record)
{
	json_object *id;
	char		key[MKTO_ID_KEY_LEN];
	bool		found;

	if (!st->dedupe_ids ||
		!json_object_object_get_ex(record, st->opts->object->id_field, &id))
		return false;
	/* ids are integers for some objects and GUID strings for others */
	strlcpy(key, json_object_get_string(id), sizeof(key));
	hash_search(st->seen_ids, key, HASH_ENTER, &found);
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
			st->injected_key && strcmp(strVal(lfirst(lc)), st->filter_field) == 0)
			value = st->injected_key;
		slot->tts_values[attnum - 1] =
			mkto_json_to_datum(&st->converters[i], value,
							   &slot->tts_isnull[attnum - 1]);
		i++;
	}
	ExecStoreVirtualTuple(slot);
	MemoryContextSwitchTo(oldcxt);
}

static void
start_scan(ForeignScanState *node, MktoScanState *st)
{
	MemoryContextReset(st->scan_cxt);
	MemoryContextReset(st->page_cxt);
	st->next_page_token = NULL;
	st->page = NULL;
	st->page_len = st->page_pos = 0;
	st->next_value = 0;
	st->browse_done = false;
	st->injected_key = NULL;
	st->values = st->browse_all ? NIL : compute_filter_values(node, st);
	/* Get-by-key calls each answer for their own key: nothing repeats. */
	st->dedupe_ids = !st->opts->object->get_by_key_path &&
		list_length(st->values) > st->opts->object->max_filter_values;
	if (st->dedupe_ids)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = MKTO_ID_KEY_LEN;
		ctl.entrysize = MKTO_ID_KEY_LEN;
		ctl.hcxt = st->scan_cxt;
		st->seen_ids = hash_create("marketo_fdw ids", 1024, &ctl,
								   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	st->started = true;
}

static TupleTableSlot *
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

static void
marketoReScanForeignScan(ForeignScanState *node)
{
	MktoScanState *st = (MktoScanState *) node->fdw_state;

	if (st)
		st->started = false;
}

static void
marketoEndForeignScan(ForeignScanState *node)
{
	/* Memory contexts go with the query; json is freed by their reset. */
}

static void
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

	ExplainPropertyText("Marketo Object", obj->name, es);
	if (field[0] == '\0')
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
							psprintf("GET /rest%s", obj->query_path), es);
	if (es->analyze && st)
		ExplainPropertyInteger("Marketo Calls", NULL, (int64) st->calls, es);
}

Datum
marketo_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = marketoGetForeignRelSize;
	routine->GetForeignPaths = marketoGetForeignPaths;
	routine->GetForeignPlan = marketoGetForeignPlan;
	routine->BeginForeignScan = marketoBeginForeignScan;
	routine->IterateForeignScan = marketoIterateForeignScan;
	routine->ReScanForeignScan = marketoReScanForeignScan;
	routine->EndForeignScan = marketoEndForeignScan;
	routine->ExplainForeignScan = marketoExplainForeignScan;

	routine->AddForeignUpdateTargets = marketoAddForeignUpdateTargets;
	routine->PlanForeignModify = marketoPlanForeignModify;
	routine->BeginForeignModify = marketoBeginForeignModify;
	routine->ExecForeignInsert = marketoExecForeignInsert;
#if PG_VERSION_NUM >= 140000
	routine->ExecForeignBatchInsert = marketoExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = marketoGetForeignModifyBatchSize;
#endif
	routine->ExecForeignUpdate = marketoExecForeignUpdate;
	routine->ExecForeignDelete = marketoExecForeignDelete;
	routine->EndForeignModify = marketoEndForeignModify;
	routine->ExplainForeignModify = marketoExplainForeignModify;
	routine->IsForeignRelUpdatable = marketoIsForeignRelUpdatable;

	routine->ImportForeignSchema = marketoImportForeignSchema;

	PG_RETURN_POINTER(routine);
}

Datum
marketo_fdw_backend_calls(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) mkto_backend_call_count());
}

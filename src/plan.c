/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  Planning callbacks: the parent key and filter a scan pushes, its
 *		  rows and costs, the read source that reads by the quals (the
 *		  first of the object's that can), and the calls planned.
 *
 * A plan no source can execute is priced out of the planner's choice and
 * fails clearly if it is chosen anyway.  Leads without a filter are listed
 * (source_new_leads.c), priced as a lead database of an assumed size.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "access/sysattr.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"

#include "join.h"
#include "recheck.h"
#include "scan_plan.h"
#include "value_hash.h"

typedef struct MktoRelInfo
{
	MktoTableOptions *opts;
	bool		has_base_filter;
	MktoFilterQual base_filter;
	bool		has_base_key;	/* parent-keyed objects: the parent key */
	MktoFilterQual base_key;
	int			base_tuples;	/* values a source reads by without a
								 * filter: compound key tuples */
} MktoRelInfo;

/* The columns a filter may be on. */
typedef enum MktoFilterColumns
{
	FILTER_ANY_COLUMN,
	FILTER_PARENT_KEY,
	FILTER_NOT_PARENT_KEY
} MktoFilterColumns;

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

static bool
is_parent_key(MktoTableOptions *opts, MktoFilterQual *filter)
{
	return opts->object->parent_key &&
		strcmp(filter->column->field, opts->object->parent_key) == 0;
}

/* Filter values one call takes, for costing: its first source's by values. */
static int
values_per_call(const MktoObjectDesc *obj)
{
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		if (obj->reads[i].source->values_per_call > 0)
			return obj->reads[i].source->values_per_call;
	}
	return 1;
}

/* Does one of the object's sources read every record without a filter? */
static bool
reads_all(const MktoObjectDesc *obj)
{
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		if (obj->reads[i].source->reads_all)
			return true;
	}
	return false;
}

/* What a bulk read of every parent is priced as, in calls. */
#define MKTO_BULK_SCAN_CALLS	1000

/* The object's source that reads it without a parent key, or NULL. */
static const MktoReadSource *
all_parents_source(const MktoObjectDesc *obj)
{
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		if (obj->reads[i].source->reads_all_parents)
			return obj->reads[i].source;
	}
	return NULL;
}

/*
 * The object's source that lists every record of a table of unknown size
 * (leads by their New Lead activities), or NULL.
 */
static const MktoReadSource *
listing_source(const MktoObjectDesc *obj)
{
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		if (obj->reads[i].source->listing_rows)
			return obj->reads[i].source;
	}
	return NULL;
}

/*
 * Picks the filter among clauses.  When outer_only, only clauses that
 * reference other relations count (the join clause of a parameterized
 * path).
 */
static bool
choose_filter(PlannerInfo *root, RelOptInfo *baserel, MktoTableOptions *opts,
			  List *clauses, bool outer_only, MktoFilterColumns which,
			  MktoFilterQual *best)
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
		if (which != FILTER_ANY_COLUMN &&
			is_parent_key(opts, &candidate) != (which == FILTER_PARENT_KEY))
			continue;
		if (!found || filter_is_better(opts, &candidate, best))
		{
			*best = candidate;
			found = true;
		}
	}
	return found;
}

static int
known_values(MktoFilterQual *filter)
{
	return filter->known_values < 0 ? MKTO_UNKNOWN_VALUES : filter->known_values;
}

/* Records a filter value matches: its first source's say, else one. */
static double
rows_per_value(const MktoObjectDesc *obj)
{
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		if (obj->reads[i].source->rows_per_value > 0)
			return obj->reads[i].source->rows_per_value;
	}
	return MKTO_ROWS_PER_VALUE;
}

/*
 * Rows and calls of a scan by key (parent-keyed objects, else NULL) and
 * filter (or NULL).  A parent without a filter is listed: a listing call
 * and a query call per page of members.
 */
static double
scan_rows(const MktoObjectDesc *obj, MktoFilterQual *key, MktoFilterQual *filter)
{
	double		per_key = filter ? Max(1.0, (double) known_values(filter) * rows_per_value(obj))
		: MKTO_ROWS_PER_PARENT;

	return key ? known_values(key) * per_key : per_key;
}

static Cost
scan_cost(MktoTableOptions *opts, MktoFilterQual *key, MktoFilterQual *filter,
		  double rows)
{
	int			per_call = values_per_call(opts->object);
	double		calls;

	if (filter)
		calls = Max(1, (known_values(filter) + per_call - 1) / per_call);
	else
		calls = 2 * ceil((double) MKTO_ROWS_PER_PARENT / MKTO_PAGE_SIZE);
	if (key)
		calls *= known_values(key);
	return calls * MKTO_CALL_COST + rows * MKTO_ROW_COST;
}

void
marketoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	MktoRelInfo *relinfo = palloc0(sizeof(MktoRelInfo));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();

	const MktoObjectDesc *obj;

	relinfo->opts = mkto_get_table_options(foreigntableid, userid);
	obj = relinfo->opts->object;
	baserel->fdw_private = relinfo;

	if (relinfo->opts->object->parent_key)
	{
		relinfo->has_base_key = choose_filter(root, baserel, relinfo->opts,
											  baserel->baserestrictinfo, false,
											  FILTER_PARENT_KEY, &relinfo->base_key);
		relinfo->has_base_filter = choose_filter(root, baserel, relinfo->opts,
												 baserel->baserestrictinfo, false,
												 FILTER_NOT_PARENT_KEY,
												 &relinfo->base_filter);
	}
	else
		relinfo->has_base_filter = choose_filter(root, baserel, relinfo->opts,
												 baserel->baserestrictinfo, false,
												 FILTER_ANY_COLUMN,
												 &relinfo->base_filter);
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		MktoSourcePlanInput in = {root, baserel, relinfo->opts, &obj->reads[i],
		baserel->baserestrictinfo};

		if (obj->reads[i].source->known_values && relinfo->base_tuples == 0)
			relinfo->base_tuples = obj->reads[i].source->known_values(&in);
	}
	if (relinfo->base_tuples > 0 && !relinfo->has_base_filter)
	{
		/* costed like a filter with that many values */
		relinfo->has_base_filter = true;
		relinfo->base_filter.column = NULL;
		relinfo->base_filter.known_values = relinfo->base_tuples;
	}
	/*
	 * Without a filter, the rows stay the generic guess even for a listing
	 * costed as a large table: without statistics the planner would take
	 * a join with a large guess for millions of rows.
	 */
	baserel->rows = scan_rows(obj, relinfo->has_base_key ? &relinfo->base_key : NULL,
							  relinfo->has_base_filter ? &relinfo->base_filter : NULL);

	/*
	 * Conditions no filter takes are checked locally: they leave fewer
	 * rows (programs WHERE name LIKE 'Webinar%'), as postgres_fdw counts.
	 */
	{
		List	   *local = NIL;
		ListCell   *lc;

		foreach(lc, baserel->baserestrictinfo)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
			MktoFilterQual unused;

			if (!mkto_filter_qual(root, baserel, relinfo->opts, rinfo, &unused))
				local = lappend(local, rinfo);
		}
		baserel->rows = clamp_row_est(baserel->rows *
									  clauselist_selectivity(root, local, baserel->relid,
															 JOIN_INNER, NULL));
	}
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

void
marketoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	MktoRelInfo *relinfo = (MktoRelInfo *) baserel->fdw_private;
	MktoTableOptions *opts = relinfo->opts;
	ListCell   *lc;
	Cost		startup,
				total;

	if (opts->object->parent_key ? relinfo->has_base_key : relinfo->has_base_filter)
	{
		startup = MKTO_CALL_COST;
		total = scan_cost(opts, relinfo->has_base_key ? &relinfo->base_key : NULL,
						  relinfo->has_base_filter ? &relinfo->base_filter : NULL,
						  baserel->rows);
	}
	else if (reads_all(opts->object))
	{
		/* Listing every record is what these objects are read by. */
		startup = MKTO_CALL_COST;
		total = MKTO_CALL_COST + baserel->rows * MKTO_ROW_COST;
	}
	else if (opts->object->parent_key && all_parents_source(opts->object))
	{
		/*
		 * Every parent's records through bulk extract: a job per few
		 * parents, minutes each.  Priced so that a join reads per outer
		 * row unless its outer side is large.
		 */
		startup = MKTO_BULK_SCAN_CALLS * MKTO_CALL_COST;
		total = startup + baserel->rows * MKTO_ROW_COST;
	}
	else if (!opts->object->parent_key && listing_source(opts->object))
	{
		/*
		 * A listing of unknown size, priced as a large lead database: a
		 * join prefers a parameterized path unless its outer side is very
		 * large.  The first rows come after the listing's first pages.
		 */
		const MktoReadSource *listing = listing_source(opts->object);

		startup = listing->listing_calls(MKTO_PAGE_SIZE) * MKTO_CALL_COST;
		total = listing->listing_calls(listing->listing_rows()) * MKTO_CALL_COST +
			baserel->rows * MKTO_ROW_COST;
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
		MktoFilterQual *key = NULL;
		MktoFilterQual *other = &filter;
		Relids		required_outer;
		ParamPathInfo *param_info;
		double		rows;

		if (!mkto_filter_qual(root, baserel, opts, rinfo, &filter))
			continue;
		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		if (opts->object->parent_key)
		{
			/* The join gives the parent key, or filters within a known one. */
			if (is_parent_key(opts, &filter))
			{
				key = &filter;
				other = relinfo->has_base_filter ? &relinfo->base_filter : NULL;
			}
			else if (relinfo->has_base_key)
				key = &relinfo->base_key;
			else
				continue;
		}

		param_info = get_baserel_parampathinfo(root, baserel, required_outer);
		rows = scan_rows(opts->object, key, other);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, rows,
										 MKTO_CALL_COST,
										 scan_cost(opts, key, other, rows),
										 NIL, param_info->ppi_req_outer,
										 NULL, NIL));
	}
}

/* ---------------------------------------------------------------- */
/* The inner scan of a batched join (join_plan.c)					  */
/* ---------------------------------------------------------------- */

bool
mkto_batch_key(PlannerInfo *root, RelOptInfo *rel, RestrictInfo *rinfo,
			   Relids outer_relids, MktoBatchKey *key)
{
	MktoRelInfo *relinfo;
	MktoTableOptions *opts;
	MktoFilterQual filter;
	OpExpr	   *op;
	Node	   *inner_arg;

	if (rel->fdwroutine == NULL ||
		rel->fdwroutine->GetForeignRelSize != marketoGetForeignRelSize ||
		rel->fdw_private == NULL)
		return false;
	relinfo = (MktoRelInfo *) rel->fdw_private;
	opts = relinfo->opts;
	if (!IsA(rinfo->clause, OpExpr) || rinfo->pseudoconstant ||
		!mkto_filter_qual(root, rel, opts, rinfo, &filter) || filter.is_array ||
		!bms_is_subset(pull_varnos(root, (Node *) filter.value_expr), outer_relids) ||
		contain_volatile_functions((Node *) filter.value_expr))
		return false;
	op = (OpExpr *) rinfo->clause;
	inner_arg = (Node *) linitial(op->args) == (Node *) filter.value_expr
		? lsecond(op->args) : linitial(op->args);
	/* the keys go as an array of the column's type, matched by its hash */
	if (exprType(inner_arg) != exprType((Node *) filter.value_expr) ||
		!OidIsValid(get_array_type(exprType(inner_arg))) ||
		!mkto_value_hash_usable(op->opno, op->inputcollid))
		return false;
	key->is_parent_key = is_parent_key(opts, &filter);
	/* parent-keyed objects: the join gives the parent, or filters within one */
	if (opts->object->parent_key && !key->is_parent_key && !relinfo->has_base_key)
		return false;
	key->rinfo = rinfo;
	key->inner_arg = (Expr *) inner_arg;
	key->outer_arg = filter.value_expr;
	key->opno = op->opno;
	key->inputcollid = op->inputcollid;
	key->column = filter.column->attname;
	key->is_id = strcmp(filter.column->field, opts->object->id_field) == 0;
	key->values_per_call = key->is_parent_key ? 1 : values_per_call(opts->object);
	return true;
}

double
mkto_batch_calls(PlannerInfo *root, RelOptInfo *rel, const MktoBatchKey *key,
				 double keys)
{
	MktoRelInfo *relinfo = (MktoRelInfo *) rel->fdw_private;
	MktoFilterQual *base_key = relinfo->has_base_key ? &relinfo->base_key : NULL;
	MktoFilterQual *base_filter = relinfo->has_base_filter ? &relinfo->base_filter : NULL;
	double		calls;

	keys = Max(keys, 1);
	if (key->is_parent_key)
		/* each parent read in full, or by the table's own filter */
		calls = keys * (scan_cost(relinfo->opts, NULL, base_filter, 0) / MKTO_CALL_COST);
	else
	{
		calls = ceil(keys / key->values_per_call);
		if (base_key)
			calls *= known_values(base_key);
	}
	return calls;
}

ForeignPath *
mkto_batched_inner_path(PlannerInfo *root, RelOptInfo *rel, const MktoBatchKey *key,
						Param *keys_param, double keys, double calls)
{
	MktoRelInfo *relinfo = (MktoRelInfo *) rel->fdw_private;
	ScalarArrayOpExpr *saop = makeNode(ScalarArrayOpExpr);
	RestrictInfo *batch;
	double		rows;

	saop->opno = key->opno;
	saop->opfuncid = get_opcode(key->opno);
	saop->useOr = true;
	saop->inputcollid = key->inputcollid;
	saop->args = list_make2(copyObject(key->inner_arg), keys_param);
	saop->location = -1;
	batch = make_simple_restrictinfo(root, (Expr *) saop);
	rows = key->is_parent_key ? keys * MKTO_ROWS_PER_PARENT
		: keys * rows_per_value(relinfo->opts->object);
	if (relinfo->has_base_filter && key->is_parent_key)
		rows = scan_rows(relinfo->opts->object, NULL, &relinfo->base_filter) * keys;
	return create_foreignscan_path(root, rel, NULL, rows, MKTO_CALL_COST,
								   calls * MKTO_CALL_COST + rows * MKTO_ROW_COST,
								   NIL, NULL, NULL,
								   list_make2(batch, makeFloat(psprintf("%.0f", calls))));
}

/*
 * The keys' parameter is set by the batched join for its inner scan only,
 * as a nested loop sets its own; but the planner's bookkeeping of
 * parameters (finalize_plan) knows only NestLoop's, and fails a plan
 * whose scan uses a parameter no level above provides.  So the parameter
 * stays out of the plan's expressions: each fdw_exprs entry that is the
 * parameter becomes a NULL placeholder, and the scan puts the parameter
 * back at execution (MktoScanBatchKeys: the Param, then the entries).
 */
static List *
hide_batch_keys(List **fdw_exprs, RestrictInfo *batch)
{
	Param	   *keys = lsecond_node(Param, ((ScalarArrayOpExpr *) batch->clause)->args);
	List	   *positions = NIL;
	ListCell   *lc;

	foreach(lc, *fdw_exprs)
	{
		if (equal(lfirst(lc), keys))
		{
			lfirst(lc) = makeNullConst(keys->paramtype, keys->paramtypmod,
									   keys->paramcollid);
			positions = lappend_int(positions, foreach_current_index(lc));
		}
	}
	if (positions == NIL || contain_exec_param((Node *) *fdw_exprs, list_make1_int(keys->paramid)))
		elog(ERROR, "marketo_fdw: batched join keys are used in an expression");
	return list_make2(copyObject(keys), positions);
}

/* The batch clause of a batched join's inner path, or NULL. */
static RestrictInfo *
batch_clause(ForeignPath *best_path, double *calls)
{
	if (best_path->fdw_private == NIL)
		return NULL;
	*calls = floatVal(lsecond(best_path->fdw_private));
	return linitial_node(RestrictInfo, best_path->fdw_private);
}

/*
 * Calls the scan is expected to make, for EXPLAIN and the statement's call
 * budget: per run, the key values times the source's calls per pass; a
 * parameterized scan runs once per outer row.  Known only when every count
 * comes from the query's constants; a guess must never refuse a query (see
 * check_planned_calls).
 */
static double
planned_calls(PlannerInfo *root, ForeignPath *best_path, MktoFilterQual *key,
			  MktoSourcePlan *source_plan, bool *estimated)
{
	double		calls = Max(source_plan->calls, 1);
	int			relid = -1;

	*estimated = source_plan->estimated;
	if (key)
	{
		calls *= known_values(key);
		*estimated |= key->known_values < 0;
	}
	if (best_path->path.param_info)
	{
		while ((relid = bms_next_member(best_path->path.param_info->ppi_req_outer, relid)) >= 0)
			calls *= Max(find_base_rel(root, relid)->rows, 1);
		*estimated = true;
	}
	return calls;
}

/* A parameterized path is there for its join clause: use it. */
static bool
choose_best_filter(PlannerInfo *root, RelOptInfo *baserel, ForeignPath *best_path,
				   List *scan_clauses, MktoFilterColumns which, MktoFilterQual *out)
{
	MktoTableOptions *opts = ((MktoRelInfo *) baserel->fdw_private)->opts;

	if (best_path->path.param_info &&
		choose_filter(root, baserel, opts, scan_clauses, true, which, out))
		return true;
	return choose_filter(root, baserel, opts, scan_clauses, false, which, out);
}

static void
add_attrs(Bitmapset **attrs, Node *node, Index relid)
{
	pull_varattnos(node, relid, attrs);
}

/*
 * Takes the "column = ANY (array)" quals whose array is known only at
 * execution out of the local quals: the scan checks them by hash
 * (recheck.c), not by searching the array for every row.  Their arrays go
 * to the end of fdw_exprs.
 */
static List *
take_hashed_rechecks(PlannerInfo *root, List *quals, Index relid, List **fdw_exprs,
					 List **rechecks)
{
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, quals)
	{
		Expr	   *qual = lfirst(lc);
		AttrNumber	attnum;

		if (mkto_hashed_recheck_clause(root, qual, relid, &attnum))
		{
			ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) qual;

			*rechecks = lappend(*rechecks,
								list_make4_int(attnum, saop->opno, saop->inputcollid,
											   list_length(*fdw_exprs)));
			*fdw_exprs = lappend(*fdw_exprs, lsecond(saop->args));
		}
		else
			kept = lappend(kept, qual);
	}
	return kept;
}

ForeignScan *
marketoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					  ForeignPath *best_path, List *tlist, List *scan_clauses,
					  Plan *outer_plan)
{
	MktoRelInfo *relinfo = (MktoRelInfo *) baserel->fdw_private;
	MktoTableOptions *opts = relinfo->opts;
	const MktoObjectDesc *obj = opts->object;
	MktoSourcePlanInput in = {root, baserel, opts, NULL, scan_clauses};
	MktoSourcePlan source_plan = {0};
	int			source = -1;
	MktoFilterQual key;
	List	   *fdw_exprs = NIL;
	List	   *fdw_private;
	List	   *fields = NIL;
	List	   *attnums = NIL;
	Bitmapset  *attrs = NULL;
	bool		whole_row;
	double		calls;
	bool		calls_estimated;
	List	   *rechecks = NIL;
	ListCell   *lc;
	double		batch_calls = 0;
	RestrictInfo *batch = batch_clause(best_path, &batch_calls);
	List	   *batch_only = batch ? list_make1(batch) : NIL;

	/* a batched join's keys are what its inner scan reads by */
	if (batch)
		scan_clauses = lcons(batch, scan_clauses);
	if (obj->parent_key)
		in.has_parent_key =
			(batch && choose_filter(root, baserel, opts, batch_only, false,
									FILTER_PARENT_KEY, &key)) ||
			choose_best_filter(root, baserel, best_path, scan_clauses,
							   FILTER_PARENT_KEY, &key);
	/* LIMIT n bounds this scan's rows only when it is the query's one table */
	in.limit_rows = root->limit_tuples > 0 &&
		bms_membership(root->all_baserels) == BMS_SINGLETON ? root->limit_tuples : -1;
	in.has_filter =
		(batch && choose_filter(root, baserel, opts, batch_only, false,
								obj->parent_key ? FILTER_NOT_PARENT_KEY : FILTER_ANY_COLUMN,
								&in.filter)) ||
		choose_best_filter(root, baserel, best_path, scan_clauses,
						   obj->parent_key ? FILTER_NOT_PARENT_KEY : FILTER_ANY_COLUMN,
						   &in.filter);
	/* The first source, in the object's order, that can read by the quals. */
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		in.use = &obj->reads[i];
		/* without its parent key, only a source that reads every parent */
		if (obj->parent_key && !in.has_parent_key && all_parents_source(obj) &&
			!in.use->source->reads_all_parents)
			continue;
		if (in.use->source->plan(&in, &source_plan))
		{
			source = i;
			break;
		}
		memset(&source_plan, 0, sizeof(source_plan));
	}
	if (source < 0)
		source_plan.calls = 1;	/* fails before its call, as planned */
	if (in.has_parent_key)
		fdw_exprs = lappend(fdw_exprs, key.value_expr);
	fdw_exprs = list_concat(fdw_exprs, source_plan.exprs);

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

	/*
	 * Every pushed clause is also rechecked locally (see deparse.c), but a
	 * batched join's keys: the join matches records to keys exactly.
	 */
	if (batch)
		scan_clauses = list_delete_ptr(scan_clauses, batch);
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	scan_clauses = take_hashed_rechecks(root, scan_clauses, baserel->relid, &fdw_exprs,
										&rechecks);

	calls = planned_calls(root, best_path, in.has_parent_key ? &key : NULL,
						  &source_plan, &calls_estimated);
	if (batch)
	{
		/* all the join's batches, from its estimate of the keys */
		calls = batch_calls;
		calls_estimated = true;
	}
	fdw_private = list_make4(fields, attnums,
							 makeInteger(in.has_parent_key ? key.is_array : -1),
							 makeInteger(in.has_parent_key ? key.known_values : 0));
	fdw_private = lappend(fdw_private, makeInteger(source));
	fdw_private = lappend(fdw_private, source_plan.private);
	fdw_private = lappend(fdw_private, makeFloat(psprintf("%.0f", calls)));
	fdw_private = lappend(fdw_private, makeInteger(calls_estimated));
	fdw_private = lappend(fdw_private, rechecks);
	fdw_private = lappend(fdw_private,
						  batch ? hide_batch_keys(&fdw_exprs, batch) : NIL);
	return make_foreignscan(tlist, scan_clauses, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

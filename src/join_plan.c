/*-------------------------------------------------------------------------
 *
 * join_plan.c
 *		  Planning the batched join: a join of any local plan (the outer
 *		  side) to a Marketo table on "column = outer expression", whose
 *		  keys are read a call's worth at a time.
 *
 * A parameterized scan makes a call per outer row: 3,000 contacts joined
 * to leads by email are 3,000 calls where 10 would do.  So the join
 * search (set_join_pathlist_hook) is also offered a custom join path for
 * every such clause: its outer side is the outer relation's cheapest
 * plan, its inner side a scan of the Marketo table reading by
 * "column = ANY ($keys)", where $keys is a PARAM_EXEC that the executor
 * (join_exec.c) fills with a block of the outer rows' distinct keys.  The
 * inner scan is an ordinary foreign scan (plan.c chooses its read source),
 * so conversions, rechecks, parallel chunks, retries and the budget are
 * the same as for any scan.  The planner takes the path by cost: a call
 * per values_per_call keys, against a call per outer row.
 *
 * Inner, LEFT, semi and anti joins with the Marketo table inside are
 * batched; "marketo_col IN (SELECT ...)" is planned as a join with the
 * subquery's rows made unique first (JOIN_UNIQUE_OUTER).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paramassign.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "join.h"
#include "scan_plan.h"

bool		mkto_enable_batched_join = true;

static set_join_pathlist_hook_type prev_set_join_pathlist_hook = NULL;

typedef struct BatchedJoinPath
{
	CustomPath	cpath;
	JoinType	jointype;		/* inner, left, semi or anti */
	List	   *restrictlist;	/* the join's clauses */
	MktoBatchKey key;
	int			paramid;
	double		calls;
} BatchedJoinPath;

static Plan *plan_batched_join(PlannerInfo *root, RelOptInfo *rel,
							   CustomPath *best_path, List *tlist,
							   List *clauses, List *custom_plans);

static const CustomPathMethods batched_join_path_methods = {
	.CustomName = "Marketo Batched Join",
	.PlanCustomPath = plan_batched_join,
};

/* The best key among the join's clauses: the object's id, else the first. */
static bool
choose_key(PlannerInfo *root, RelOptInfo *innerrel, Relids outer_relids,
		   List *restrictlist, MktoBatchKey *best)
{
	bool		found = false;
	ListCell   *lc;

	foreach(lc, restrictlist)
	{
		MktoBatchKey candidate;

		if (!mkto_batch_key(root, innerrel, lfirst_node(RestrictInfo, lc),
							outer_relids, &candidate))
			continue;
		if (!found || (candidate.is_id && !best->is_id))
		{
			*best = candidate;
			found = true;
		}
	}
	return found;
}

/* The batched join of outer_path to innerrel by key. */
static void
add_batched_join_path(PlannerInfo *root, RelOptInfo *joinrel, Path *outer_path,
					  RelOptInfo *innerrel, JoinType jointype,
					  JoinPathExtraData *extra, const MktoBatchKey *key)
{
	BatchedJoinPath *bp;
	ForeignPath *inner_path;
	Param	   *keys_param;
	double		keys = Max(outer_path->rows, 1);
	double		calls = mkto_batch_calls(root, innerrel, key, keys);
	double		overlap;

	keys_param = makeNode(Param);
	keys_param->paramkind = PARAM_EXEC;
	keys_param->paramid = assign_special_exec_param(root);
	keys_param->paramtype = get_array_type(exprType((Node *) key->outer_arg));
	keys_param->paramtypmod = -1;
	keys_param->paramcollid = exprCollation((Node *) key->outer_arg);
	keys_param->location = -1;
	inner_path = mkto_batched_inner_path(root, innerrel, key, keys_param, keys, calls);

	bp = palloc0(sizeof(BatchedJoinPath));
	bp->cpath.path.type = T_CustomPath;
	bp->cpath.path.pathtype = T_CustomScan;
	bp->cpath.path.parent = joinrel;
	bp->cpath.path.pathtarget = joinrel->reltarget;
	bp->cpath.path.param_info = NULL;
	bp->cpath.path.parallel_aware = false;
	bp->cpath.path.parallel_safe = false;	/* the keys' parameter is ours */
	bp->cpath.path.parallel_workers = 0;
	bp->cpath.path.rows = joinrel->rows;
	/* the first rows come after the outer plan's first and one call */
	bp->cpath.path.startup_cost = outer_path->startup_cost + MKTO_CALL_COST;
	/*
	 * A block's calls go out together: their waits overlap, so each costs
	 * less than a nested loop's call, down to half (a call still counts
	 * against the quota).  Keys Marketo answers one per call (a lead's
	 * memberships) make as many calls either way, and this is what makes
	 * the planner send them together.
	 */
	overlap = Min(Max(calls, 1), MKTO_JOIN_MAX_BLOCK_CALLS);
	bp->cpath.path.total_cost = outer_path->total_cost + inner_path->path.total_cost -
		calls * MKTO_CALL_COST * 0.5 * (1.0 - 1.0 / overlap) +
		keys * cpu_operator_cost + joinrel->rows * cpu_tuple_cost;
	/* rows come out in the outer side's order */
	bp->cpath.path.pathkeys = build_join_pathkeys(root, joinrel, jointype,
												  outer_path->pathkeys);
	bp->cpath.flags = 0;
	bp->cpath.custom_paths = list_make2(outer_path, inner_path);
	bp->cpath.methods = &batched_join_path_methods;
	bp->jointype = jointype;
	bp->restrictlist = extra->restrictlist;
	bp->key = *key;
	bp->paramid = keys_param->paramid;
	bp->calls = calls;
	add_path(joinrel, &bp->cpath.path);
}

/*
 * Offers the batched join of outerrel to innerrel, if innerrel is a Marketo
 * table and a join clause can be its key: over the outer side's cheapest
 * plan, and over each of its ordered ones (ORDER BY ... LIMIT keeps the
 * order and stops early).
 */
static void
add_batched_join_paths(PlannerInfo *root, RelOptInfo *joinrel,
					   RelOptInfo *outerrel, RelOptInfo *innerrel,
					   JoinType jointype, JoinPathExtraData *extra)
{
	MktoBatchKey key;
	ListCell   *lc;

	if (innerrel->reloptkind != RELOPT_BASEREL ||
		!bms_is_empty(innerrel->lateral_relids) ||
		outerrel->cheapest_total_path == NULL)
		return;
	/* gating quals are planned by the other join paths */
	foreach(lc, extra->restrictlist)
	{
		if (lfirst_node(RestrictInfo, lc)->pseudoconstant)
			return;
	}
	switch (jointype)
	{
		case JOIN_INNER:
		case JOIN_LEFT:
		case JOIN_SEMI:
		case JOIN_ANTI:
			break;
		case JOIN_UNIQUE_OUTER:
			break;
		default:
			return;
	}
	if (!choose_key(root, innerrel, outerrel->relids, extra->restrictlist, &key))
		return;

	if (jointype == JOIN_UNIQUE_OUTER)
	{
		/* "key IN (SELECT ...)": the subquery's rows made unique first */
		Path	   *unique = (Path *) create_unique_path(root, outerrel,
														 outerrel->cheapest_total_path,
														 extra->sjinfo);

		if (unique != NULL && PATH_REQ_OUTER(unique) == NULL)
			add_batched_join_path(root, joinrel, unique, innerrel, JOIN_INNER,
								  extra, &key);
		return;
	}
	foreach(lc, outerrel->pathlist)
	{
		Path	   *outer_path = lfirst(lc);

		/* an outer side that needs parameters itself is left to nested loops */
		if (PATH_REQ_OUTER(outer_path) != NULL)
			continue;
		if (outer_path == outerrel->cheapest_total_path || outer_path->pathkeys != NIL)
			add_batched_join_path(root, joinrel, outer_path, innerrel, jointype,
								  extra, &key);
	}
}

static void
batched_join_pathlist(PlannerInfo *root, RelOptInfo *joinrel,
					  RelOptInfo *outerrel, RelOptInfo *innerrel,
					  JoinType jointype, JoinPathExtraData *extra)
{
	if (prev_set_join_pathlist_hook)
		prev_set_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype, extra);
	if (mkto_enable_batched_join)
		add_batched_join_paths(root, joinrel, outerrel, innerrel, jointype, extra);
}

/* Where expr is in tlist, counting from 0, or -1. */
static int
tlist_position(List *tlist, Expr *expr)
{
	ListCell   *lc;

	while (IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	foreach(lc, tlist)
	{
		if (equal(lfirst_node(TargetEntry, lc)->expr, expr))
			return foreach_current_index(lc);
	}
	return -1;
}

/*
 * The scan tuple is the outer plan's columns, then the inner scan's: the
 * join's quals, key and output are evaluated on it (setrefs turns their
 * Vars into references to custom_scan_tlist).
 */
static Plan *
plan_batched_join(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
				  List *tlist, List *clauses, List *custom_plans)
{
	BatchedJoinPath *bp = (BatchedJoinPath *) best_path;
	CustomScan *cscan = makeNode(CustomScan);
	Plan	   *outer_plan = linitial(custom_plans);
	Plan	   *inner_plan = lsecond(custom_plans);
	List	   *joinquals;
	List	   *otherquals;
	List	   *scan_tlist = NIL;
	int			inner_key;
	ListCell   *lc;

	if (IS_OUTER_JOIN(bp->jointype))
		extract_actual_join_clauses(bp->restrictlist, rel->relids, &joinquals, &otherquals);
	else
	{
		joinquals = extract_actual_clauses(bp->restrictlist, false);
		otherquals = NIL;
	}
	foreach(lc, outer_plan->targetlist)
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry(copyObject(lfirst_node(TargetEntry, lc)->expr),
											 list_length(scan_tlist) + 1, NULL, false));
	foreach(lc, inner_plan->targetlist)
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry(copyObject(lfirst_node(TargetEntry, lc)->expr),
											 list_length(scan_tlist) + 1, NULL, false));
	inner_key = tlist_position(inner_plan->targetlist, bp->key.inner_arg);
	if (inner_key < 0)
		elog(ERROR, "marketo_fdw: batched join key is not in its scan's output");

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = otherquals;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = list_make2(joinquals, copyObject(bp->key.outer_arg));
	cscan->custom_private = list_make5(makeInteger(bp->jointype),
									   makeInteger(list_length(outer_plan->targetlist)),
									   makeInteger(list_length(outer_plan->targetlist) + inner_key),
									   makeInteger(bp->paramid),
									   makeInteger(bp->key.opno));
	cscan->custom_private = lappend(cscan->custom_private, makeInteger(bp->key.inputcollid));
	cscan->custom_private = lappend(cscan->custom_private, makeInteger(bp->key.values_per_call));
	cscan->custom_private = lappend(cscan->custom_private,
									makeFloat(psprintf("%.0f", bp->calls)));
	cscan->custom_private = lappend(cscan->custom_private, makeString(pstrdup(bp->key.column)));
	cscan->custom_private = lappend(cscan->custom_private,
									makeInteger(root->tuple_fraction > 0.0));
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_relids = rel->relids;
	cscan->methods = &mkto_batched_join_scan_methods;
	return &cscan->scan.plan;
}

void
mkto_join_init(void)
{
	DefineCustomBoolVariable("marketo_fdw.enable_batched_join",
							 "Lets the planner read a join's Marketo rows by batches of the join's keys.",
							 "Off, a join to a Marketo table reads per outer row or reads the whole table.",
							 &mkto_enable_batched_join, true, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	RegisterCustomScanMethods(&mkto_batched_join_scan_methods);
	prev_set_join_pathlist_hook = set_join_pathlist_hook;
	set_join_pathlist_hook = batched_join_pathlist;
}

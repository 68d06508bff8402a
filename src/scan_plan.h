/*-------------------------------------------------------------------------
 *
 * scan_plan.h
 *		  What planning (plan.c) hands the executor's scan (scan.c), and
 *		  the scan callbacks the handler installs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCAN_PLAN_H
#define SCAN_PLAN_H

#include "read_source.h"

/*
 * Planner cost of one Marketo call.  A round trip of ~100 ms would be
 * worth far more in the planner's units, but JIT is chosen by the plan's
 * cost (jit_above_cost, 100000), and compiling does not make a network
 * wait shorter: at 10 a call, a nested loop of a thousand calls stays
 * below it.  Calls still dominate row costs by a thousand times, so the
 * planner prefers fewer calls all the same.
 */
#define MKTO_CALL_COST			10.0
#define MKTO_ROW_COST			0.01

/* Indexes into ForeignScan.fdw_private. */
enum MktoScanPrivateIndex
{
	MktoScanFields,				/* List of String: REST fields requested */
	MktoScanAttnums,			/* IntList: column of each field, 0 for none */
	MktoScanKeyIsArray,			/* Integer: parent key, -1 none, 1 array */
	MktoScanKeyKnownValues,		/* Integer: parent key values, or -1 */
	MktoScanSource,				/* Integer: index in the object's reads, or
								 * -1: none can read by these quals */
	MktoScanSourcePrivate,		/* List: that source's plan facts */
	MktoScanPlannedCalls,		/* Float: the calls planned */
	MktoScanCallsEstimated,		/* Integer: 1 when that count is a guess */
	MktoScanHashedRechecks,		/* List of IntList (attnum, opno,
								 * inputcollid, index in fdw_exprs): the
								 * "= ANY (array)" quals checked by hash */
	MktoScanBatchKeys			/* List (Param, IntList of fdw_exprs indexes)
								 * of a batched join's keys, or NIL */
};

/*
 * fdw_exprs: the parent key's expression when there is one, then the
 * source's, then the arrays of the hashed rechecks.
 */

extern void marketoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid);
extern void marketoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
extern ForeignScan *marketoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										  Oid foreigntableid, ForeignPath *best_path,
										  List *tlist, List *scan_clauses,
										  Plan *outer_plan);
extern void marketoBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *marketoIterateForeignScan(ForeignScanState *node);
extern void marketoReScanForeignScan(ForeignScanState *node);
extern void marketoEndForeignScan(ForeignScanState *node);
extern void marketoExplainForeignScan(ForeignScanState *node, ExplainState *es);

#endif							/* SCAN_PLAN_H */

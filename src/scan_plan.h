/*-------------------------------------------------------------------------
 *
 * scan_plan.h
 *		  What planning (plan.c) hands the executor's scan (scan.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCAN_PLAN_H
#define SCAN_PLAN_H

#include "marketo_fdw.h"

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
/* Rows a filter value is assumed to match, when nothing better is known. */
#define MKTO_ROWS_PER_VALUE		1
#define MKTO_UNKNOWN_VALUES		10

/* Rows of a parent (a program) when nothing better is known. */
#define MKTO_ROWS_PER_PARENT	1000

/* Indexes into ForeignScan.fdw_private. */
enum MktoScanPrivateIndex
{
	MktoScanFilterField,		/* String: REST field, "" for none */
	MktoScanFilterIsArray,		/* Integer: 1 for = ANY(array) */
	MktoScanFilterKnownValues,	/* Integer: values known at plan time, or -1 */
	MktoScanFields,				/* List of String: REST fields requested */
	MktoScanAttnums,			/* IntList: column of each field, 0 for none */
	MktoScanKeyIsArray,			/* Integer: parent key, -1 none, 1 array */
	MktoScanKeyKnownValues,		/* Integer: parent key values, or -1 */
	MktoScanRangeBounds,		/* Integer: MKTO_RANGE_LOWER | _UPPER */
	MktoScanCompoundTuples,		/* Integer: compound key tuples, 0 for none */
	MktoScanPlannedCalls,		/* Float: the calls planned */
	MktoScanCallsEstimated		/* Integer: 1 when that count is a guess */
};

#define MKTO_RANGE_LOWER	1
#define MKTO_RANGE_UPPER	2

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

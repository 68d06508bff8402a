/*-------------------------------------------------------------------------
 *
 * recheck.h
 *		  The local recheck of "column = ANY (array)" by hash (recheck.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECHECK_H
#define RECHECK_H

#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "nodes/primnodes.h"

typedef struct MktoHashedRecheck MktoHashedRecheck;

/*
 * Planning: is clause "column = ANY (array)" on relid's column, with an
 * array known only at execution, that the scan can recheck by hash?
 */
extern bool mkto_hashed_recheck_clause(PlannerInfo *root, Expr *clause, Index relid,
									   AttrNumber *attnum);

/* Execution: the set's state, its array evaluated in parent. */
extern MktoHashedRecheck *mkto_hashed_recheck_begin(PlanState *parent, Oid opno,
													Oid inputcollid,
													AttrNumber attnum,
													Expr *array_expr);
/* Each run: the array's elements, evaluated again. */
extern void mkto_hashed_recheck_rescan(MktoHashedRecheck *recheck,
									   ExprContext *econtext);
/* Does the slot's column equal an element? */
extern bool mkto_hashed_recheck_match(MktoHashedRecheck *recheck,
									  TupleTableSlot *slot);

#endif							/* RECHECK_H */

/*-------------------------------------------------------------------------
 *
 * join.h
 *		  The batched join: a join of any local plan to a Marketo table,
 *		  whose join keys are sent to Marketo a call's worth at a time
 *		  (join_plan.c plans it, join_exec.c runs it).
 *
 *-------------------------------------------------------------------------
 */
#ifndef JOIN_H
#define JOIN_H

#include "postgres.h"

#include "nodes/extensible.h"
#include "nodes/pathnodes.h"

/* A join clause "marketo column = outer expression" a batch can read by. */
typedef struct MktoBatchKey
{
	RestrictInfo *rinfo;
	Expr	   *inner_arg;		/* the Marketo table's side */
	Expr	   *outer_arg;		/* the other side, of the same type */
	Oid			opno;
	Oid			inputcollid;
	const char *column;			/* the Marketo table's column */
	bool		is_id;			/* the object's id: one record a key */
	bool		is_parent_key;	/* each key is a parent read in full */
	int			values_per_call;
} MktoBatchKey;

/* plan.c: is rinfo such a clause on rel (a Marketo table)? */
extern bool mkto_batch_key(PlannerInfo *root, RelOptInfo *rel, RestrictInfo *rinfo,
						   Relids outer_relids, MktoBatchKey *key);
/* plan.c: the calls of reading keys values of key from rel. */
extern double mkto_batch_calls(PlannerInfo *root, RelOptInfo *rel,
							   const MktoBatchKey *key, double keys);
/* plan.c: the inner scan, reading by "inner_arg = ANY (keys_param)". */
extern ForeignPath *mkto_batched_inner_path(PlannerInfo *root, RelOptInfo *rel,
											const MktoBatchKey *key,
											Param *keys_param, double keys,
											double calls);

/* Indexes into the CustomScan's custom_private. */
enum MktoJoinPrivateIndex
{
	MktoJoinType,				/* Integer: JoinType (inner, left, semi, anti) */
	MktoJoinOuterColumns,		/* Integer: scan tuple columns from the outer plan */
	MktoJoinInnerKeyColumn,		/* Integer: the key's column in the scan tuple */
	MktoJoinParam,				/* Integer: the PARAM_EXEC of the keys array */
	MktoJoinOperator,			/* Integer: Oid of the key's equality */
	MktoJoinCollation,			/* Integer: Oid */
	MktoJoinKeysPerCall,		/* Integer */
	MktoJoinPlannedCalls,		/* Float */
	MktoJoinKeyColumn,			/* String: the Marketo table's column */
	MktoJoinFastStart			/* Integer: 1 when the query wants its first
								 * rows soon (LIMIT, cursor) */
};

/* custom_exprs: the join quals (a List), then the outer key expression. */

/* The most keys one block of outer rows sends: this many calls at once. */
#define MKTO_JOIN_MAX_BLOCK_CALLS	10

extern CustomScanMethods mkto_batched_join_scan_methods;
extern bool mkto_enable_batched_join;

/* From _PG_init. */
extern void mkto_join_init(void);

#endif							/* JOIN_H */

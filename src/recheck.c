/*-------------------------------------------------------------------------
 *
 * recheck.c
 *		  The local recheck of "column = ANY (array)" by hash, for arrays
 *		  known only at execution (ARRAY(SELECT ...), parameters).
 *
 * Every pushed clause is rechecked locally, since Marketo matches more
 * loosely than SQL.  PostgreSQL hashes such a clause only for a constant
 * array; for any other it searches the whole array for every row, which
 * for 100,000 values and as many rows is 10^10 comparisons.  So the plan
 * takes those clauses out of the scan's quals (plan.c), and the scan
 * checks each row against a hash set of the array, built each run with the
 * operator's own hash and equality functions: the same answer, as the
 * hashed form of the clause would give (a NULL element matches nothing, and
 * in a WHERE clause NULL and false are the same).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "recheck.h"
#include "value_hash.h"

struct MktoHashedRecheck
{
	AttrNumber	attnum;
	ExprState  *array_state;
	Oid			opno;
	Oid			elemtype;
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	Oid			collation;
	MktoValueHash *set;			/* this run's elements */
	MemoryContext cxt;			/* reset each run */
};

bool
mkto_hashed_recheck_clause(PlannerInfo *root, Expr *clause, Index relid,
						   AttrNumber *attnum)
{
	ScalarArrayOpExpr *saop;
	Node	   *column;
	Node	   *array;

	if (!IsA(clause, ScalarArrayOpExpr))
		return false;
	saop = (ScalarArrayOpExpr *) clause;
	if (!saop->useOr || list_length(saop->args) != 2)
		return false;
	column = linitial(saop->args);
	array = lsecond(saop->args);
	/* a constant array PostgreSQL hashes itself */
	if (IsA(array, Const) || IsA(array, ArrayExpr))
		return false;
	if (!IsA(column, Var) || ((Var *) column)->varno != relid ||
		((Var *) column)->varattno <= 0 || ((Var *) column)->varlevelsup != 0)
		return false;
	/* the array must not depend on the row itself */
	if (contain_volatile_functions(array) ||
		bms_is_member(relid, pull_varnos(root, array)))
		return false;
	if (!mkto_value_hash_usable(saop->opno, saop->inputcollid))
		return false;
	*attnum = ((Var *) column)->varattno;
	return true;
}

MktoHashedRecheck *
mkto_hashed_recheck_begin(PlanState *parent, Oid opno, Oid inputcollid,
						  AttrNumber attnum, Expr *array_expr)
{
	MktoHashedRecheck *r = palloc0(sizeof(MktoHashedRecheck));

	r->attnum = attnum;
	r->array_state = ExecInitExpr(array_expr, parent);
	r->elemtype = get_element_type(exprType((Node *) array_expr));
	get_typlenbyvalalign(r->elemtype, &r->elemlen, &r->elembyval, &r->elemalign);
	r->collation = inputcollid;
	r->opno = opno;
	r->cxt = AllocSetContextCreate(CurrentMemoryContext, "marketo_fdw recheck",
								   ALLOCSET_DEFAULT_SIZES);
	return r;
}

void
mkto_hashed_recheck_rescan(MktoHashedRecheck *r, ExprContext *econtext)
{
	MemoryContext oldcxt;
	Datum		array;
	bool		isnull;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	MemoryContextReset(r->cxt);
	oldcxt = MemoryContextSwitchTo(r->cxt);
	array = ExecEvalExpr(r->array_state, econtext, &isnull);
	n = 0;
	if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypePCopy(array);

		deconstruct_array(arr, r->elemtype, r->elemlen, r->elembyval, r->elemalign,
						  &elems, &nulls, &n);
	}
	r->set = mkto_value_hash_create(r->opno, r->collation, r->elemtype,
									sizeof(MktoValueKey), n, r->cxt);
	for (int i = 0; i < n; i++)
	{
		bool		found;

		if (nulls[i])
			continue;			/* matches nothing */
		(void) mkto_value_hash_enter(r->set, elems[i], &found);
	}
	MemoryContextSwitchTo(oldcxt);
}

bool
mkto_hashed_recheck_match(MktoHashedRecheck *r, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, r->attnum, &isnull);

	if (isnull)
		return false;
	return mkto_value_hash_find(r->set, value) != NULL;
}

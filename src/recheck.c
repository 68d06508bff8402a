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

#include "catalog/pg_collation.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "recheck.h"

struct MktoHashedRecheck
{
	AttrNumber	attnum;
	ExprState  *array_state;
	Oid			elemtype;
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	Oid			collation;
	FmgrInfo	hash_fn;
	FmgrInfo	eq_fn;
	HTAB	   *set;			/* this run's elements */
	MemoryContext cxt;			/* reset each run */
};

/* A set member: the element, and the set it belongs to (for its functions). */
typedef struct RecheckKey
{
	Datum		value;
	MktoHashedRecheck *owner;
} RecheckKey;

static uint32
recheck_hash(const void *key, Size keysize)
{
	const RecheckKey *k = key;

	return DatumGetUInt32(FunctionCall1Coll(&k->owner->hash_fn, k->owner->collation,
											k->value));
}

static int
recheck_match(const void *key1, const void *key2, Size keysize)
{
	const RecheckKey *a = key1;
	const RecheckKey *b = key2;

	return DatumGetBool(FunctionCall2Coll(&a->owner->eq_fn, a->owner->collation,
										  a->value, b->value)) ? 0 : 1;
}

bool
mkto_hashed_recheck_clause(PlannerInfo *root, Expr *clause, Index relid,
						   AttrNumber *attnum)
{
	ScalarArrayOpExpr *saop;
	Node	   *column;
	Node	   *array;
	Oid			left_hash,
				right_hash;

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
	/* equality whose two sides hash alike, as PostgreSQL's hashed form asks */
	if (!get_op_hash_functions(saop->opno, &left_hash, &right_hash) ||
		left_hash != right_hash)
		return false;
	if (OidIsValid(saop->inputcollid) && !get_collation_isdeterministic(saop->inputcollid))
		return false;
	*attnum = ((Var *) column)->varattno;
	return true;
}

MktoHashedRecheck *
mkto_hashed_recheck_begin(PlanState *parent, Oid opno, Oid inputcollid,
						  AttrNumber attnum, Expr *array_expr)
{
	MktoHashedRecheck *r = palloc0(sizeof(MktoHashedRecheck));
	Oid			left_hash,
				right_hash;

	r->attnum = attnum;
	r->array_state = ExecInitExpr(array_expr, parent);
	r->elemtype = get_element_type(exprType((Node *) array_expr));
	get_typlenbyvalalign(r->elemtype, &r->elemlen, &r->elembyval, &r->elemalign);
	r->collation = inputcollid;
	if (!get_op_hash_functions(opno, &left_hash, &right_hash))
		elog(ERROR, "operator %u has no hash function", opno);
	fmgr_info(left_hash, &r->hash_fn);
	fmgr_info(get_opcode(opno), &r->eq_fn);
	r->cxt = AllocSetContextCreate(CurrentMemoryContext, "marketo_fdw recheck",
								   ALLOCSET_DEFAULT_SIZES);
	return r;
}

void
mkto_hashed_recheck_rescan(MktoHashedRecheck *r, ExprContext *econtext)
{
	MemoryContext oldcxt;
	HASHCTL		ctl = {0};
	Datum		array;
	bool		isnull;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	MemoryContextReset(r->cxt);
	oldcxt = MemoryContextSwitchTo(r->cxt);
	ctl.keysize = sizeof(RecheckKey);
	ctl.entrysize = sizeof(RecheckKey);
	ctl.hash = recheck_hash;
	ctl.match = recheck_match;
	ctl.hcxt = r->cxt;
	array = ExecEvalExpr(r->array_state, econtext, &isnull);
	n = 0;
	if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypePCopy(array);

		deconstruct_array(arr, r->elemtype, r->elemlen, r->elembyval, r->elemalign,
						  &elems, &nulls, &n);
	}
	r->set = hash_create("marketo_fdw recheck", Max(n, 16), &ctl,
						 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	for (int i = 0; i < n; i++)
	{
		RecheckKey	key;

		if (nulls[i])
			continue;			/* matches nothing */
		key.value = elems[i];
		key.owner = r;
		(void) hash_search(r->set, &key, HASH_ENTER, NULL);
	}
	MemoryContextSwitchTo(oldcxt);
}

bool
mkto_hashed_recheck_match(MktoHashedRecheck *r, TupleTableSlot *slot)
{
	RecheckKey	key;
	bool		isnull;

	key.value = slot_getattr(slot, r->attnum, &isnull);
	if (isnull)
		return false;
	key.owner = r;
	return hash_search(r->set, &key, HASH_FIND, NULL) != NULL;
}

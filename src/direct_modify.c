/*-------------------------------------------------------------------------
 *
 * direct_modify.c
 *		  UPDATE and DELETE by id without reading first.
 *
 * `UPDATE … SET … WHERE id = ANY (…)` and `DELETE … WHERE id IN (…)`
 * need nothing from Marketo before they write: the ids are in the query
 * and the new values do not depend on the old row.  So, as postgres_fdw
 * sends such statements whole, the statement goes straight to the sync
 * (updateOnly) or delete call, a batch of ids a call.  Marketo's
 * per-record statuses give the row count: an id it does not have ("not
 * found") is a row the WHERE did not match.
 *
 * The batches themselves are modify.c's, so errors, skips, the budget and
 * retries are those of every UPDATE and DELETE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "access/tupdesc.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "marketo_fdw.h"

/* Indexes into a direct modification's ForeignScan.fdw_private. */
enum MktoDirectPrivateIndex
{
	MktoDirectIdsAreArray,		/* Integer: the ids are an array */
	MktoDirectTargets,			/* IntList: the SET columns */
	MktoDirectSetTag,			/* Integer: the statement's row count */
	MktoDirectRequest,			/* String: the call, for EXPLAIN */
	MktoDirectKnownIds			/* Integer: ids known at planning, or -1 */
};

/* fdw_exprs: the ids, then the SET columns' values in target order. */

static bool mkto_enable_direct_modify = true;

typedef struct DirectModifyState
{
	MktoModifyState *modify;
	ExprState  *ids;
	bool		ids_are_array;
	Oid			ids_type;		/* the element type for arrays */
	List	   *targets;
	List	   *set_values;		/* ExprState, per target */
	TupleTableSlot *values;		/* the SET columns, the same for every id */
	bool		set_tag;
	bool		done;
	int64		changed;
	int64		unmatched;
} DirectModifyState;

void
mkto_direct_modify_init(void)
{
	DefineCustomBoolVariable("marketo_fdw.enable_direct_modify",
							 "Sends UPDATE and DELETE by id without reading the records first.",
							 NULL,
							 &mkto_enable_direct_modify, true, PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* A value the executor can compute once, before any record is known. */
static bool
is_constant_for_statement(Node *expr)
{
	return !contain_var_clause(expr) && !contain_volatile_functions(expr) &&
		!contain_subplans(expr);
}

/*
 * Objects whose UPDATE and DELETE name the record by its id in the body
 * of one batched call: not those written per record, per parent or per
 * status.
 */
static bool
writes_by_id_in_batches(const MktoObjectDesc *obj, CmdType operation)
{
	if (obj->update_path || obj->status_field || obj->keyed_writes ||
		obj->parent_key || obj->injected_key_field)
		return false;
	return operation == CMD_UPDATE ? obj->sync_path != NULL : obj->delete_path != NULL;
}

/* The SET columns' new values, in the order of targets; NIL: not direct. */
static List *
set_values(PlannerInfo *root, Index resultRelation, List *targets, bool *ok)
{
	List	   *tlist;
	List	   *colnos;
	List	   *values = NIL;
	ListCell   *lc;

	*ok = true;
	get_translated_update_targetlist(root, resultRelation, &tlist, &colnos);
	foreach(lc, targets)
	{
		AttrNumber	attnum = lfirst_int(lc);
		ListCell   *lt;
		ListCell   *ln;
		Expr	   *value = NULL;

		forboth(lt, tlist, ln, colnos)
		{
			if (lfirst_int(ln) == attnum)
				value = ((TargetEntry *) lfirst(lt))->expr;
		}
		if (value == NULL || !is_constant_for_statement((Node *) value))
		{
			*ok = false;
			return NIL;
		}
		values = lappend(values, value);
	}
	return values;
}

bool
marketoPlanDirectModify(PlannerInfo *root, ModifyTable *plan,
						Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	Plan	   *subplan = outerPlan(plan);
	ForeignScan *fscan;
	RelOptInfo *rel;
	MktoTableOptions *opts;
	const MktoObjectDesc *obj;
	RestrictInfo *rinfo;
	MktoFilterQual ids;
	List	   *targets;
	List	   *values = NIL;
	bool		ok = true;
	const char *path;

	if (!mkto_enable_direct_modify)
		return false;
	if (operation != CMD_UPDATE && operation != CMD_DELETE)
		return false;
	/* RETURNING needs the records; PostgreSQL rules out row triggers */
	if (plan->returningLists != NIL)
		return false;
	/* a plain scan of the target: no join, no local computation */
	if (subplan == NULL || !IsA(subplan, ForeignScan))
		return false;
	fscan = (ForeignScan *) subplan;
	if (fscan->scan.scanrelid != resultRelation)
		return false;

	opts = mkto_modify_options(root, resultRelation);
	obj = opts->object;
	if (!writes_by_id_in_batches(obj, operation))
		return false;

	/* the WHERE is one condition: the id field = or IN values */
	rel = find_base_rel(root, resultRelation);
	if (list_length(rel->baserestrictinfo) != 1)
		return false;
	rinfo = linitial_node(RestrictInfo, rel->baserestrictinfo);
	if (!mkto_filter_qual(root, rel, opts, rinfo, &ids) ||
		strcmp(ids.column->field, obj->id_field) != 0 ||
		!is_constant_for_statement((Node *) ids.value_expr))
		return false;

	/* the same refusals (read-only columns, capabilities) as a read-first write */
	targets = mkto_modify_targets(root, resultRelation, operation, opts);
	if (operation == CMD_UPDATE)
	{
		values = set_values(root, resultRelation, targets, &ok);
		if (!ok)
			return false;
	}

	path = operation == CMD_DELETE
		? psprintf("POST /rest%s (deleteBy %s)", mkto_shown_path(obj, obj->delete_path),
				   obj->delete_key_value ? obj->delete_key_value : obj->id_field)
		: psprintf("POST /rest%s (action %s)", mkto_shown_path(obj, obj->sync_path),
				   obj->update_action);

	fscan->operation = operation;
	fscan->resultRelation = resultRelation;
	fscan->fdw_exprs = lcons(ids.value_expr, values);
	fscan->fdw_private = list_make5(makeInteger(ids.is_array), targets,
									makeInteger(plan->canSetTag),
									makeString(psprintf("%s, %d ids a call, no read",
														path, opts->batch_size)),
									makeInteger(ids.known_values));
	/* the WHERE is the ids sent: nothing is left to check locally */
	fscan->scan.plan.qual = NIL;
	return true;
}

void
marketoBeginDirectModify(ForeignScanState *node, int eflags)
{
	ForeignScan *fscan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	ResultRelInfo *rinfo = node->resultRelInfo;
	DirectModifyState *ds;
	Expr	   *ids_expr = linitial(fscan->fdw_exprs);
	ListCell   *lc;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	ds = palloc0(sizeof(DirectModifyState));
	node->fdw_state = ds;
	ds->ids_are_array = intVal(list_nth(fscan->fdw_private, MktoDirectIdsAreArray)) != 0;
	ds->targets = list_nth(fscan->fdw_private, MktoDirectTargets);
	ds->set_tag = intVal(list_nth(fscan->fdw_private, MktoDirectSetTag)) != 0;
	ds->ids = ExecInitExpr(ids_expr, (PlanState *) node);
	ds->ids_type = exprType((Node *) ids_expr);
	if (ds->ids_are_array)
		ds->ids_type = get_element_type(ds->ids_type);
	for_each_from(lc, fscan->fdw_exprs, 1)
		ds->set_values = lappend(ds->set_values,
								 ExecInitExpr(lfirst(lc), (PlanState *) node));
	ds->values = ExecInitExtraTupleSlot(estate, RelationGetDescr(rinfo->ri_RelationDesc),
										&TTSOpsVirtual);
	ds->modify = mkto_direct_begin(estate, rinfo, fscan->operation, ds->targets);
}

/* The SET columns' values, computed once. */
static void
compute_values(DirectModifyState *ds, ExprContext *econtext)
{
	TupleTableSlot *slot = ds->values;
	ListCell   *lt;
	ListCell   *lv;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	forboth(lt, ds->targets, lv, ds->set_values)
	{
		AttrNumber	attnum = lfirst_int(lt);

		slot->tts_values[attnum - 1] = ExecEvalExpr(lfirst(lv), econtext,
													&slot->tts_isnull[attnum - 1]);
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * The distinct ids, each as the id column's type, in a stable order: as
 * text, as a read by id sends them.
 */
static List *
distinct_ids(DirectModifyState *ds, ExprContext *econtext, Oid id_type)
{
	bool		isnull;
	Datum		datum = ExecEvalExpr(ds->ids, econtext, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **texts;
	int			ntexts = 0;
	Oid			input;
	Oid			ioparam;
	List	   *result = NIL;

	if (isnull)
		return NIL;
	if (ds->ids_are_array)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ds->ids_type, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(datum), ds->ids_type, typlen, typbyval,
						  typalign, &elems, &nulls, &n);
	}
	else
	{
		elems = &datum;
		nulls = &isnull;
		n = 1;
	}
	texts = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (!nulls[i])			/* = NULL matches nothing */
			texts[ntexts++] = mkto_datum_to_text(ds->ids_type, elems[i]);
	}
	qsort(texts, ntexts, sizeof(char *), pg_qsort_strcmp);

	getTypeInputInfo(id_type, &input, &ioparam);
	for (int i = 0; i < ntexts; i++)
	{
		if (i > 0 && strcmp(texts[i], texts[i - 1]) == 0)
			continue;
		result = lappend(result, (void *) DatumGetPointer(
					OidInputFunctionCall(input, texts[i], ioparam, -1)));
	}
	return result;
}

TupleTableSlot *
marketoIterateDirectModify(ForeignScanState *node)
{
	DirectModifyState *ds = (DirectModifyState *) node->fdw_state;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	EState	   *estate = node->ss.ps.state;

	if (!ds->done)
	{
		ListCell   *lc;

		ds->done = true;
		compute_values(ds, econtext);
		/* a list cell holds a datum, by value or not, as a pointer */
		foreach(lc, distinct_ids(ds, econtext, mkto_direct_id_type(ds->modify)))
			mkto_direct_add(ds->modify, ds->values, PointerGetDatum(lfirst(lc)));
		ds->changed = mkto_direct_send(ds->modify, &ds->unmatched);
		if (ds->set_tag)
			estate->es_processed += ds->changed;
	}
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

void
marketoEndDirectModify(ForeignScanState *node)
{
	DirectModifyState *ds = (DirectModifyState *) node->fdw_state;

	if (ds && ds->modify)
		mkto_direct_end(ds->modify, node->resultRelInfo);
}

void
marketoExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fscan = (ForeignScan *) node->ss.ps.plan;
	DirectModifyState *ds = (DirectModifyState *) node->fdw_state;
	int			known = intVal(list_nth(fscan->fdw_private, MktoDirectKnownIds));

	ExplainPropertyText("Marketo Direct Modify",
						strVal(list_nth(fscan->fdw_private, MktoDirectRequest)), es);
	if (known >= 0)
		ExplainPropertyInteger("Marketo Ids", NULL, known, es);
	if (es->analyze && ds)
	{
		ExplainPropertyInteger("Marketo Records Changed", NULL, ds->changed, es);
		ExplainPropertyInteger("Marketo Ids Not Found", NULL, ds->unmatched, es);
	}
}

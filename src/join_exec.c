/*-------------------------------------------------------------------------
 *
 * join_exec.c
 *		  Running the batched join (planned by join_plan.c).
 *
 * Outer rows are read in blocks.  A block ends when it holds a target
 * number of keys not yet read: MKTO_JOIN_MAX_BLOCK_CALLS calls' worth,
 * which the inner scan sends together.  When the query wants its first
 * rows soon (LIMIT, a cursor), the first block is one call's worth and
 * each next one twice the last, so that a LIMIT that stops early has made
 * at most twice the calls it needed.  The block's new keys go to the inner scan as one array
 * parameter; its records are kept in a hash table by the key column,
 * hashed and compared with the join operator's own functions, so that
 * Marketo's looser matching (case) never decides a match.  Then each row
 * of the block, in order, is joined to the records of its key, and the
 * join's quals decide, as SQL says.  Records stay in the table for later
 * blocks, until it outgrows work_mem: a key repeated across blocks is
 * read once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "executor/nodeCustom.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"

#include "join.h"
#include "value_hash.h"

/* The most outer rows a block holds, whatever their keys. */
#define MKTO_JOIN_MAX_BLOCK_ROWS	10000

typedef struct InnerRecord
{
	MinimalTuple tuple;
	struct InnerRecord *next;
} InnerRecord;

/* The records of one key, read in batch number batch. */
typedef struct KeyRecords
{
	MktoValueKey key;
	int64		batch;
	InnerRecord *first;
	InnerRecord *last;
} KeyRecords;

typedef struct OuterRow
{
	MinimalTuple tuple;
	KeyRecords *records;		/* NULL for a NULL key */
} OuterRow;

typedef struct BatchedJoinState
{
	CustomScanState css;
	JoinType	jointype;
	int			nouter;			/* scan tuple columns from the outer plan */
	int			ninner;
	AttrNumber	inner_key;		/* the key's column in the inner output */
	int			paramid;
	Oid			opno;
	Oid			collation;
	Oid			keytype;
	int16		keylen;
	bool		keybyval;
	char		keyalign;
	int			keys_per_call;
	double		planned_calls;
	const char *key_column;

	PlanState  *outer;
	PlanState  *inner;
	ExprState  *joinqual;
	ExprState  *outer_key;
	TupleTableSlot *outer_slot;
	TupleTableSlot *inner_slot;

	MemoryContext block_cxt;	/* the block's rows */
	MemoryContext records_cxt;	/* the records read, by key */
	MktoValueHash *records;

	OuterRow   *rows;
	int			nrows;
	int			row_pos;
	bool		row_started;	/* rows[row_pos] is being joined */
	bool		row_matched;
	InnerRecord *next_record;
	bool		outer_done;
	int			block_keys;		/* new keys the next block holds */
	bool		fast_start;

	int64		batches;
	int64		keys_sent;
	int64		records_dropped;	/* times records outgrew work_mem */
} BatchedJoinState;

static Node *create_batched_join_state(CustomScan *cscan);
static void begin_batched_join(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *exec_batched_join(CustomScanState *node);
static void end_batched_join(CustomScanState *node);
static void rescan_batched_join(CustomScanState *node);
static void explain_batched_join(CustomScanState *node, List *ancestors,
								 ExplainState *es);

CustomScanMethods mkto_batched_join_scan_methods = {
	.CustomName = "Marketo Batched Join",
	.CreateCustomScanState = create_batched_join_state,
};

static const CustomExecMethods batched_join_exec_methods = {
	.CustomName = "Marketo Batched Join",
	.BeginCustomScan = begin_batched_join,
	.ExecCustomScan = exec_batched_join,
	.EndCustomScan = end_batched_join,
	.ReScanCustomScan = rescan_batched_join,
	.ExplainCustomScan = explain_batched_join,
};

static Node *
create_batched_join_state(CustomScan *cscan)
{
	BatchedJoinState *js = palloc0(sizeof(BatchedJoinState));

	NodeSetTag(js, T_CustomScanState);
	js->css.flags = cscan->flags;
	js->css.methods = &batched_join_exec_methods;
	return (Node *) js;
}

static void
reset_records(BatchedJoinState *js)
{
	MemoryContextReset(js->records_cxt);
	js->records = mkto_value_hash_create(js->opno, js->collation, js->keytype,
										 sizeof(KeyRecords), 1024, js->records_cxt);
}

static int
first_block_keys(BatchedJoinState *js)
{
	return js->fast_start ? js->keys_per_call
		: js->keys_per_call * MKTO_JOIN_MAX_BLOCK_CALLS;
}

static void
begin_batched_join(CustomScanState *node, EState *estate, int eflags)
{
	BatchedJoinState *js = (BatchedJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *priv = cscan->custom_private;
	Expr	   *outer_key_expr = lsecond(cscan->custom_exprs);

	js->jointype = (JoinType) intVal(list_nth(priv, MktoJoinType));
	js->nouter = intVal(list_nth(priv, MktoJoinOuterColumns));
	js->inner_key = intVal(list_nth(priv, MktoJoinInnerKeyColumn)) - js->nouter + 1;
	js->paramid = intVal(list_nth(priv, MktoJoinParam));
	js->opno = (Oid) intVal(list_nth(priv, MktoJoinOperator));
	js->collation = (Oid) intVal(list_nth(priv, MktoJoinCollation));
	js->keys_per_call = intVal(list_nth(priv, MktoJoinKeysPerCall));
	js->planned_calls = floatVal(list_nth(priv, MktoJoinPlannedCalls));
	js->key_column = strVal(list_nth(priv, MktoJoinKeyColumn));
	js->fast_start = intVal(list_nth(priv, MktoJoinFastStart)) != 0;
	js->keytype = exprType((Node *) outer_key_expr);
	get_typlenbyvalalign(js->keytype, &js->keylen, &js->keybyval, &js->keyalign);

	js->outer = ExecInitNode(linitial(cscan->custom_plans), estate, eflags);
	js->inner = ExecInitNode(lsecond(cscan->custom_plans), estate, eflags);
	node->custom_ps = list_make2(js->outer, js->inner);
	js->ninner = list_length(((Plan *) lsecond(cscan->custom_plans))->targetlist);
	js->joinqual = ExecInitQual(linitial(cscan->custom_exprs), (PlanState *) node);
	js->outer_key = ExecInitExpr(outer_key_expr, (PlanState *) node);
	js->outer_slot = ExecAllocTableSlot(&estate->es_tupleTable,
										ExecGetResultType(js->outer),
										&TTSOpsMinimalTuple);
	js->inner_slot = ExecAllocTableSlot(&estate->es_tupleTable,
										ExecGetResultType(js->inner),
										&TTSOpsMinimalTuple);
	js->block_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "marketo_fdw batched join rows",
										  ALLOCSET_DEFAULT_SIZES);
	js->records_cxt = AllocSetContextCreate(estate->es_query_cxt,
											"marketo_fdw batched join records",
											ALLOCSET_DEFAULT_SIZES);
	reset_records(js);
	js->block_keys = first_block_keys(js);
}

/*
 * The scan tuple of row joined to record (NULL: null-extended).  Its
 * values point into the row's and the record's tuples, which live until
 * the row's block is done.
 */
static TupleTableSlot *
scan_tuple(BatchedJoinState *js, MinimalTuple row, MinimalTuple record)
{
	TupleTableSlot *scan = js->css.ss.ss_ScanTupleSlot;

	ExecClearTuple(scan);
	ExecStoreMinimalTuple(row, js->outer_slot, false);
	slot_getallattrs(js->outer_slot);
	memcpy(scan->tts_values, js->outer_slot->tts_values, sizeof(Datum) * js->nouter);
	memcpy(scan->tts_isnull, js->outer_slot->tts_isnull, sizeof(bool) * js->nouter);
	if (record)
	{
		ExecStoreMinimalTuple(record, js->inner_slot, false);
		slot_getallattrs(js->inner_slot);
		memcpy(scan->tts_values + js->nouter, js->inner_slot->tts_values,
			   sizeof(Datum) * js->ninner);
		memcpy(scan->tts_isnull + js->nouter, js->inner_slot->tts_isnull,
			   sizeof(bool) * js->ninner);
	}
	else
	{
		memset(scan->tts_isnull + js->nouter, true, sizeof(bool) * js->ninner);
	}
	return ExecStoreVirtualTuple(scan);
}

/* Reads the records of the block's new keys through the inner scan. */
static void
read_records(BatchedJoinState *js, Datum *keys, int nkeys)
{
	EState	   *estate = js->css.ss.ps.state;
	ParamExecData *prm = &estate->es_param_exec_vals[js->paramid];
	MemoryContext oldcxt = MemoryContextSwitchTo(js->block_cxt);

	prm->value = PointerGetDatum(construct_array(keys, nkeys, js->keytype, js->keylen,
												 js->keybyval, js->keyalign));
	prm->isnull = false;
	prm->execPlan = NULL;
	js->inner->chgParam = bms_add_member(js->inner->chgParam, js->paramid);
	MemoryContextSwitchTo(oldcxt);

	for (;;)
	{
		TupleTableSlot *slot = ExecProcNode(js->inner);
		KeyRecords *entry;
		InnerRecord *rec;
		bool		isnull;
		Datum		value;

		if (TupIsNull(slot))
			break;
		value = slot_getattr(slot, js->inner_key, &isnull);
		if (isnull)
			continue;
		entry = mkto_value_hash_find(js->records, value);
		/* Marketo's looser match, or a key read by an earlier batch */
		if (entry == NULL || entry->batch != js->batches)
			continue;
		oldcxt = MemoryContextSwitchTo(js->records_cxt);
		rec = palloc(sizeof(InnerRecord));
		rec->tuple = ExecCopySlotMinimalTuple(slot);
		rec->next = NULL;
		if (entry->last)
			entry->last->next = rec;
		else
			entry->first = rec;
		entry->last = rec;
		MemoryContextSwitchTo(oldcxt);
	}
	js->batches++;
	js->keys_sent += nkeys;
}

/*
 * Reads the next block of outer rows and the records of their new keys.
 * False when the outer side has no more rows.
 */
static bool
next_block(BatchedJoinState *js)
{
	ExprContext *econtext = js->css.ss.ps.ps_ExprContext;
	int			max_rows = Max(MKTO_JOIN_MAX_BLOCK_ROWS, js->block_keys);
	Datum	   *new_keys;
	int			nnew = 0;

	MemoryContextReset(js->block_cxt);
	js->nrows = js->row_pos = 0;
	js->row_started = false;
	if (js->outer_done)
		return false;
	if (MemoryContextMemAllocated(js->records_cxt, true) > (Size) work_mem * 1024)
	{
		reset_records(js);
		js->records_dropped++;
	}
	js->rows = MemoryContextAlloc(js->block_cxt, sizeof(OuterRow) * max_rows);
	new_keys = MemoryContextAlloc(js->block_cxt, sizeof(Datum) * js->block_keys);

	while (nnew < js->block_keys && js->nrows < max_rows)
	{
		TupleTableSlot *slot = ExecProcNode(js->outer);
		OuterRow   *row;
		Datum		key;
		bool		isnull;

		if (TupIsNull(slot))
		{
			js->outer_done = true;
			break;
		}
		row = &js->rows[js->nrows++];
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(js->block_cxt);

			row->tuple = ExecCopySlotMinimalTuple(slot);
			MemoryContextSwitchTo(oldcxt);
		}
		row->records = NULL;
		econtext->ecxt_scantuple = scan_tuple(js, row->tuple, NULL);
		key = ExecEvalExprSwitchContext(js->outer_key, econtext, &isnull);
		if (!isnull)
		{
			bool		found;

			row->records = mkto_value_hash_enter(js->records, key, &found);
			if (!found)
			{
				row->records->batch = js->batches;
				new_keys[nnew++] = row->records->key.value;
			}
		}
		ResetExprContext(econtext);
	}
	if (nnew > 0)
		read_records(js, new_keys, nnew);
	/* twice the keys next time, up to the calls sent at once */
	js->block_keys = Min(js->block_keys * 2,
						 js->keys_per_call * MKTO_JOIN_MAX_BLOCK_CALLS);
	return js->nrows > 0;
}

/* ExecScan's access method: the next joined (or null-extended) scan tuple. */
static TupleTableSlot *
next_joined(ScanState *ss)
{
	BatchedJoinState *js = (BatchedJoinState *) ss;
	ExprContext *econtext = ss->ps.ps_ExprContext;

	for (;;)
	{
		OuterRow   *row;

		CHECK_FOR_INTERRUPTS();
		if (!js->row_started)
		{
			if (js->row_pos >= js->nrows && !next_block(js))
				return ExecClearTuple(ss->ss_ScanTupleSlot);
			row = &js->rows[js->row_pos];
			js->row_started = true;
			js->row_matched = false;
			js->next_record = row->records ? row->records->first : NULL;
		}
		row = &js->rows[js->row_pos];
		while (js->next_record)
		{
			InnerRecord *rec = js->next_record;

			js->next_record = rec->next;
			econtext->ecxt_scantuple = scan_tuple(js, row->tuple, rec->tuple);
			if (!ExecQual(js->joinqual, econtext))
			{
				ResetExprContext(econtext);
				continue;
			}
			js->row_matched = true;
			if (js->jointype == JOIN_ANTI)
				break;
			if (js->jointype == JOIN_SEMI)
			{
				js->row_started = false;
				js->row_pos++;
			}
			return ss->ss_ScanTupleSlot;
		}
		js->row_started = false;
		js->row_pos++;
		if (!js->row_matched &&
			(js->jointype == JOIN_LEFT || js->jointype == JOIN_ANTI))
			return scan_tuple(js, row->tuple, NULL);
	}
}

/*
 * EvalPlanQual (a row of a local table changed under FOR UPDATE or a
 * write): each side yields its one substituted row, the Marketo side
 * without a call, and the pair is joined again as SQL says.
 */
static bool
recheck_joined(ScanState *ss, TupleTableSlot *slot)
{
	BatchedJoinState *js = (BatchedJoinState *) ss;
	ExprContext *econtext = ss->ps.ps_ExprContext;
	TupleTableSlot *outer = ExecProcNode(js->outer);
	TupleTableSlot *inner;
	MinimalTuple row;
	bool		matched = false;
	MemoryContext oldcxt;

	if (TupIsNull(outer))
		return false;
	/*
	 * Under EvalPlanQual only this method runs (never next_joined), so the
	 * block's context holds just the previous recheck's pair.
	 */
	MemoryContextReset(js->block_cxt);
	oldcxt = MemoryContextSwitchTo(js->block_cxt);
	row = ExecCopySlotMinimalTuple(outer);
	MemoryContextSwitchTo(oldcxt);
	inner = ExecProcNode(js->inner);
	if (!TupIsNull(inner))
	{
		MinimalTuple record;

		oldcxt = MemoryContextSwitchTo(js->block_cxt);
		record = ExecCopySlotMinimalTuple(inner);
		MemoryContextSwitchTo(oldcxt);
		econtext->ecxt_scantuple = scan_tuple(js, row, record);
		matched = ExecQual(js->joinqual, econtext);
	}
	switch (js->jointype)
	{
		case JOIN_INNER:
		case JOIN_SEMI:
			return matched;
		case JOIN_LEFT:
			if (!matched)
				(void) scan_tuple(js, row, NULL);
			return true;
		case JOIN_ANTI:
			if (matched)
				return false;
			(void) scan_tuple(js, row, NULL);
			return true;
		default:
			elog(ERROR, "marketo_fdw: unexpected join type %d", (int) js->jointype);
	}
	return false;
}

static TupleTableSlot *
exec_batched_join(CustomScanState *node)
{
	return ExecScan(&node->ss, next_joined, recheck_joined);
}

static void
end_batched_join(CustomScanState *node)
{
	BatchedJoinState *js = (BatchedJoinState *) node;

	ExecEndNode(js->outer);
	ExecEndNode(js->inner);
}

static void
rescan_batched_join(CustomScanState *node)
{
	BatchedJoinState *js = (BatchedJoinState *) node;
	Bitmapset  *changed = node->ss.ps.chgParam;

	if (changed != NULL)
	{
		UpdateChangedParamSet(js->outer, changed);
		UpdateChangedParamSet(js->inner, changed);
	}
	/* records read by other parameter values of the inner scan are stale */
	if (js->inner->chgParam != NULL)
		reset_records(js);
	if (js->outer->chgParam == NULL)
		ExecReScan(js->outer);
	MemoryContextReset(js->block_cxt);
	js->nrows = js->row_pos = 0;
	js->row_started = false;
	js->outer_done = false;
	js->block_keys = first_block_keys(js);
}

static void
explain_batched_join(CustomScanState *node, List *ancestors, ExplainState *es)
{
	BatchedJoinState *js = (BatchedJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *priv = cscan->custom_private;
	JoinType	jointype = (JoinType) intVal(list_nth(priv, MktoJoinType));
	List	   *context;
	List	   *joinquals = linitial(cscan->custom_exprs);
	const char *type = jointype == JOIN_LEFT ? "Left" : jointype == JOIN_SEMI ? "Semi"
		: jointype == JOIN_ANTI ? "Anti" : "Inner";
	double		planned = floatVal(list_nth(priv, MktoJoinPlannedCalls));

	context = set_deparse_context_plan(es->deparse_cxt, (Plan *) cscan, ancestors);
	ExplainPropertyText("Join Type", type, es);
	ExplainPropertyText("Marketo Join Key",
						psprintf("%s = %s", quote_identifier(strVal(list_nth(priv, MktoJoinKeyColumn))),
								 deparse_expression(lsecond(cscan->custom_exprs), context,
													true, false)),
						es);
	if (joinquals)
		ExplainPropertyText("Join Filter",
							deparse_expression((Node *) make_ands_explicit(joinquals),
											   context, true, false),
							es);
	ExplainPropertyInteger("Marketo Keys per Call", NULL,
						   intVal(list_nth(priv, MktoJoinKeysPerCall)), es);
	if (es->format == EXPLAIN_FORMAT_TEXT)
		ExplainPropertyText("Marketo Planned Calls",
							psprintf("%.0f (estimate)", planned), es);
	else
		ExplainPropertyFloat("Marketo Planned Calls", NULL, planned, 0, es);
	if (es->analyze && js->records)
	{
		ExplainPropertyInteger("Marketo Batches", NULL, js->batches, es);
		ExplainPropertyInteger("Marketo Keys Sent", NULL, js->keys_sent, es);
		if (js->records_dropped > 0)
			ExplainPropertyInteger("Marketo Records Dropped for work_mem", NULL,
								   js->records_dropped, es);
	}
}

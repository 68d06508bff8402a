/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  INSERT, UPDATE and DELETE as batched Marketo sync and delete calls.
 *
 * Rows are collected into batches of up to the object's limit, one call
 * each.  INSERT sends each batch at once (ExecForeignBatchInsert).  UPDATE
 * and DELETE hold their batches until the statement's scan has finished:
 * changing records while their query is still paging would shift Marketo's
 * pages under the scan and skip rows.  PostgreSQL fires AFTER triggers
 * before then, so UPDATE and DELETE refuse them.  Marketo answers per
 * record; a record it skips fails the statement, and the error says how
 * much Marketo had already applied, since it has no transactions.
 *
 * What is sent is the final row: defaults, generated columns and BEFORE
 * ROW trigger changes included.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_trigger.h"
#include "commands/explain.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "marketo_fdw.h"
#include "mkto_limiter.h"
#include "read_source.h"
#include "write_buffer.h"

/* Indexes into the fdw_private list PlanForeignModify returns. */
enum MktoModifyPrivateIndex
{
	MktoModifyTargetAttnums,	/* IntList: columns the statement writes */
	MktoModifyKeepExisting		/* Integer: ON CONFLICT DO NOTHING */
};

typedef struct MktoBatch
{
	json_object *input;			/* the records */
	char	  **keys;			/* a readable key per record, for errors */
	json_object **ids;			/* ids Marketo returned, per record */
	bool	   *existed;		/* per record: Marketo already had it (ON
								 * CONFLICT DO NOTHING) */
	int			count;
	char	   *path_key;		/* the id, for one-record-a-call updates */
	char	  **row_keys;		/* per record, the injected key (insert_path) */
	char	  **statuses;		/* per record, the status_field value or NULL */
	/* set for calls split by key: the path, and the status they set */
	char	   *call_path;
	char	   *status;
	/* per record, the buffered row it came from (write_buffer.c), or NULL */
	MktoQueuedRow **queued;
} MktoBatch;

typedef struct MktoModifyState
{
	MktoTableOptions *opts;
	MktoClient *client;
	CmdType		operation;
	int			ntargets;
	AttrNumber *target_attnums;
	MktoConverter *targets;
	MktoColumn *id_column;		/* column holding the record id, or NULL */
	MktoConverter id_converter;
	AttrNumber	rowid_attno;	/* junk column in the plan slot */
	AttrNumber	rowkey_attno;	/* junk column of the injected key */
	Oid			rowkey_typid;
	int			batch_size;
	bool		buffer_inserts; /* COPY: rows go out in full batches */
	bool		keep_existing;	/* ON CONFLICT DO NOTHING */
	const char *insert_action;
	int64		existing_skips; /* records Marketo already had, then */
	AttrNumber *read_only_attnums;	/* INSERT: columns that must stay NULL */
	int			nread_only;
	const char *read_only_hint; /* how to leave them NULL */
	AttrNumber *key_attnums;	/* INSERT: columns Marketo matches by */
	int			nkeys;

	/*
	 * UPDATE under a BEFORE ROW trigger: the other columns, sent when the
	 * trigger changed them (compared with the old row, "wholerow").
	 */
	MktoConverter *watched;
	AttrNumber *watched_attnums;
	int			nwatched;
	AttrNumber	wholerow_attno;

	MemoryContext rows_cxt;		/* batches not yet sent */
	MemoryContext call_cxt;		/* a call's body and response */
	MemoryContext tuple_cxt;	/* rows returned with Marketo's ids */
	MktoBatch  *batch;			/* the batch being filled */
	List	   *pending;		/* full batches waiting for the scan to end */

	int64		sent;			/* records sent by this statement */
	int64		applied;		/* records Marketo reported as applied */
	int64		benign_skips;	/* skips with the object's benign code */
	char	   *benign_message; /* Marketo's message for the first of them */

	/*
	 * A direct UPDATE or DELETE (direct_modify.c) reads nothing first: a
	 * record Marketo does not have is a row the WHERE did not match.
	 */
	bool		missing_unmatched;
	int64		unmatched;
	TupleTableSlot *direct_id_slot; /* the id, as the plan slot's junk */

	/*
	 * Rows held across the transaction's statements (write_buffer.c)
	 * rather than sent by this statement.
	 */
	bool		buffered;
	MktoWriteTarget target;
	int			statement;		/* its number among the buffering ones */
} MktoModifyState;

static void send_batch(MktoModifyState *st, MktoBatch *batch);

static bool
str_equal(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static const char *
operation_name(CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return "INSERT";
		case CMD_UPDATE:
			return "UPDATE";
		default:
			return "DELETE";
	}
}

static void
check_capability(MktoTableOptions *opts, CmdType operation)
{
	uint32		needed = operation == CMD_INSERT ? MKTO_CAP_INSERT :
		operation == CMD_UPDATE ? MKTO_CAP_UPDATE : MKTO_CAP_DELETE;

	if ((opts->object->capabilities & needed) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("Marketo object \"%s\" does not support %s",
						opts->object->name, operation_name(operation))));
}

static MktoColumn *
id_column(MktoTableOptions *opts)
{
	return mkto_column_by_field(opts, opts->object->id_field);
}

/*
 * The role PostgreSQL checks the statement's permissions as: a view's owner
 * for writes through the view, else the current user.  Its user mapping
 * holds the credentials, as for reads.
 */
static Oid
rte_user(PlannerInfo *root, RangeTblEntry *rte)
{
	Oid			userid = rte->checkAsUser;

	return OidIsValid(userid) ? userid : GetUserId();
}

/*
 * The Var of the column for field (the id, or the injected key of keyed
 * writes); UPDATE and DELETE find their records by it.
 */
static Var *
row_id_var(Relation rel, Index rtindex, Oid userid, bool injected_key)
{
	MktoTableOptions *opts = mkto_get_table_options(RelationGetRelid(rel), userid);
	MktoColumn *col = injected_key
		? mkto_column_by_field(opts, opts->object->injected_key_field)
		: id_column(opts);

	if (col == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for Marketo field \"%s\"",
						opts->relname,
						injected_key ? opts->object->injected_key_field : opts->object->id_field),
				 errdetail("UPDATE and DELETE address Marketo records by that field."),
				 errhint("Add a column with OPTIONS (field '%s').",
						 injected_key ? opts->object->injected_key_field : opts->object->id_field)));

	return makeVar(rtindex, col->attnum, col->typid, col->typmod,
				   get_typcollation(col->typid), 0);
}

void
marketoAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							   RangeTblEntry *target_rte,
							   Relation target_relation)
{
	Oid			userid = rte_user(root, target_rte);

	add_row_identity_var(root, row_id_var(target_relation, rtindex, userid, false), rtindex,
						 MKTO_ROW_ID_NAME);
	if (mkto_table_object(RelationGetRelid(target_relation))->keyed_writes)
		add_row_identity_var(root, row_id_var(target_relation, rtindex, userid, true), rtindex,
							 MKTO_ROW_KEY_NAME);
}

/* The columns an INSERT or UPDATE writes, as attnums. */
static Bitmapset *
written_columns(PlannerInfo *root, Index resultRelation, CmdType operation)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);

	return operation == CMD_INSERT ? rte->insertedCols
		: bms_union(rte->updatedCols, rte->extraUpdatedCols);
}

static bool
list_has_field(List *fields, const char *field)
{
	ListCell   *lc;

	foreach(lc, fields)
	{
		if (strcmp((char *) lfirst(lc), field) == 0)
			return true;
	}
	return false;
}

static void pg_attribute_noreturn()
read_only_column_error(MktoTableOptions *opts, MktoColumn *column, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
			 errmsg("column \"%s\" of foreign table \"%s\" is read-only in Marketo",
					column->attname, opts->relname),
			 errdetail("Marketo field \"%s\" cannot be written through the REST API.",
					   column->field),
			 errhint("%s", hint)));
}

/*
 * The action an INSERT sends.  ON CONFLICT DO NOTHING creates the new
 * records and leaves the existing ones alone: that is createOnly, whatever
 * insert_action says, with its "already exists" skips counted.
 */
static const char *
insert_action_for(MktoTableOptions *opts, bool keep_existing)
{
	if (keep_existing && mkto_name_in_list("createOnly", opts->object->insert_actions))
		return "createOnly";
	return opts->insert_action;
}

/*
 * The fields Marketo matches inserted records by: the lookup field (leads)
 * or every dedupe field (other objects).  createDuplicate matches nothing.
 */
static const char *const *
insert_keys(MktoTableOptions *opts, const char *action, const char **single)
{
	if (str_equal(action, "createDuplicate"))
		return NULL;
	if (opts->object->insert_key_param)
	{
		single[0] = opts->lookup_field;
		single[1] = NULL;
		return single;
	}
	return opts->object->dedupe_fields;
}

/* An INSERT must be able to set the fields Marketo matches records by. */
static void
check_insert_keys(MktoTableOptions *opts, const char *action, List *settable_fields)
{
	const char *single[2];
	const char *const *keys = insert_keys(opts, action, single);

	for (; keys && *keys; keys++)
	{
		if (list_has_field(settable_fields, *keys))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("INSERT into foreign table \"%s\" must set the column for Marketo field \"%s\"",
						opts->relname, *keys),
				 errdetail("Marketo needs %s to create a record.",
						   opts->object->insert_key_param ? opts->lookup_field
						   : mkto_join_names(opts->object->dedupe_fields)),
				 opts->object->insert_key_param
				 ? errhint("Insert that column, or change the table's lookup_field option.")
				 : errhint("Insert that column.")));
	}
}

/*
 * Refuses an UPDATE of column, which the statement or (by_trigger) a BEFORE
 * ROW trigger changes.
 */
static void
check_update_column(MktoTableOptions *opts, MktoColumn *column, bool by_trigger)
{
	if (column->read_only)
		read_only_column_error(opts, column, by_trigger
							   ? "Make the trigger leave the column unchanged."
							   : "Leave the column out of the UPDATE.");
	/* UPDATE finds the record by these: changing them would move it */
	if (strcmp(column->field, opts->object->id_field) == 0 ||
		(opts->object->keyed_writes &&
		 strcmp(column->field, opts->object->injected_key_field) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
						column->attname, opts->relname),
				 errdetail("Marketo identifies %s records by field \"%s\".",
						   opts->object->name, column->field),
				 errhint("DELETE the row and INSERT a new one instead.")));
	if (opts->object->update_fields &&
		!mkto_name_in_list(column->field, opts->object->update_fields))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated in Marketo",
						column->attname, opts->relname),
				 errdetail("Marketo updates only these attributes: %s.",
						   mkto_join_names(opts->object->update_fields))));
}

/*
 * The fields an INSERT's final row may hold: the columns it names, those
 * with a default or generated value, and under a BEFORE ROW trigger any.
 */
static List *
settable_insert_fields(MktoTableOptions *opts, Oid relid, List *named_fields)
{
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		any = rel->trigdesc && rel->trigdesc->trig_insert_before_row;
	List	   *fields = named_fields;

	for (int i = 0; i < opts->ncolumns && i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		MktoColumn *column = &opts->columns[i];

		if (column->field && (any || attr->atthasdef || attr->attgenerated))
			fields = lappend(fields, column->field);
	}
	table_close(rel, NoLock);
	return fields;
}

/*
 * The columns an INSERT or UPDATE writes (attnums), after the checks that
 * refuse writing them; their fields go to *written_fields.
 */
static List *
checked_targets(PlannerInfo *root, Index resultRelation, CmdType operation,
				MktoTableOptions *opts, List **written_fields)
{
	List	   *targets = NIL;
	Bitmapset  *written = written_columns(root, resultRelation, operation);
	int			col = -1;

	while ((col = bms_next_member(written, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;
		MktoColumn *column;

		if (attnum <= 0 || attnum > opts->ncolumns)
			continue;
		column = &opts->columns[attnum - 1];
		if (column->field == NULL)
			continue;
		if (operation == CMD_UPDATE)
			check_update_column(opts, column, false);
		else if (column->read_only)
			read_only_column_error(opts, column, "Leave the column out of the INSERT.");
		*written_fields = lappend(*written_fields, column->field);
		targets = lappend_int(targets, attnum);
	}
	return targets;
}

/* The statement's table options, as the planner opens them for writes. */
MktoTableOptions *
mkto_modify_options(PlannerInfo *root, Index resultRelation)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);

	return mkto_get_table_options(rte->relid, rte_user(root, rte));
}

/* An UPDATE's or DELETE's checked targets (attnums; NIL for DELETE). */
List *
mkto_modify_targets(PlannerInfo *root, Index resultRelation, CmdType operation,
					MktoTableOptions *opts)
{
	List	   *written_fields = NIL;

	check_capability(opts, operation);
	if (operation == CMD_DELETE)
		return NIL;
	return checked_targets(root, resultRelation, operation, opts, &written_fields);
}

List *
marketoPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
						 Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	MktoTableOptions *opts = mkto_modify_options(root, resultRelation);
	bool		keep_existing = plan->onConflictAction == ONCONFLICT_NOTHING;
	List	   *targets;
	List	   *written_fields = NIL;

	check_capability(opts, operation);
	if (operation == CMD_DELETE)
		return list_make2(NIL, makeInteger(0));
	targets = checked_targets(root, resultRelation, operation, opts, &written_fields);

	/* An INSERT sends its final rows whole; BeginForeignModify picks the columns. */
	if (operation == CMD_INSERT)
	{
		check_insert_keys(opts, insert_action_for(opts, keep_existing),
						  settable_insert_fields(opts, rte->relid, written_fields));
		targets = NIL;
	}

	return list_make2(targets, makeInteger(keep_existing));
}

static Oid
modify_user(EState *estate, ResultRelInfo *rinfo)
{
	/* A partition that rows are routed to has no range table entry. */
	Index		rti = rinfo->ri_RangeTableIndex != 0 ? rinfo->ri_RangeTableIndex
		: rinfo->ri_RootResultRelInfo->ri_RangeTableIndex;
	RangeTblEntry *rte = exec_rt_fetch(rti, estate);
	Oid			userid = rte->checkAsUser;

	return OidIsValid(userid) ? userid : GetUserId();
}

static void
start_batch(MktoModifyState *st)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->rows_cxt);
	MktoBatch  *batch = palloc0(sizeof(MktoBatch));

	batch->input = mkto_track_json(json_object_new_array());
	batch->keys = palloc0(sizeof(char *) * st->batch_size);
	batch->ids = palloc0(sizeof(json_object *) * st->batch_size);
	batch->existed = palloc0(sizeof(bool) * st->batch_size);
	batch->row_keys = palloc0(sizeof(char *) * st->batch_size);
	batch->statuses = palloc0(sizeof(char *) * st->batch_size);
	st->batch = batch;
	MemoryContextSwitchTo(oldcxt);
}

/* The memory a state's batches and calls use, under parent. */
static void
create_send_contexts(MktoModifyState *st, MemoryContext parent)
{
	st->rows_cxt = AllocSetContextCreate(parent, "marketo_fdw rows",
										 ALLOCSET_DEFAULT_SIZES);
	st->call_cxt = AllocSetContextCreate(parent, "marketo_fdw call",
										 ALLOCSET_DEFAULT_SIZES);
}

/* The state of a modification that writes the columns in targets. */
static MktoModifyState *
begin_modify(EState *estate, ResultRelInfo *rinfo, CmdType operation,
			 MktoTableOptions *opts, List *targets)
{
	MktoModifyState *st = palloc0(sizeof(MktoModifyState));

	rinfo->ri_FdwState = st;
	st->operation = operation;
	st->opts = opts;
	st->insert_action = opts->insert_action;
	st->client = mkto_connect(st->opts);
	st->batch_size = st->opts->batch_size;
	if (st->operation == CMD_UPDATE && st->opts->object->update_path)
		st->batch_size = 1;		/* the path names the one record */

	st->ntargets = list_length(targets);
	st->targets = mkto_converters_for(st->opts, targets, &st->target_attnums);

	st->id_column = id_column(st->opts);
	if (st->id_column)
		mkto_converter_init(&st->id_converter, st->id_column, st->opts->relname);

	create_send_contexts(st, estate->es_query_cxt);
	st->tuple_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "marketo_fdw returned rows",
										  ALLOCSET_DEFAULT_SIZES);
	start_batch(st);
	return st;
}

/*
 * An INSERT sends its final rows whole (defaults and BEFORE ROW trigger
 * changes included): every mapped column Marketo lets us write.
 */
static List *
insert_targets(MktoTableOptions *opts)
{
	List	   *targets = NIL;

	for (int i = 0; i < opts->ncolumns; i++)
	{
		if (opts->columns[i].field && !opts->columns[i].read_only)
			targets = lappend_int(targets, opts->columns[i].attnum);
	}
	return targets;
}

/*
 * The per-row checks of an INSERT: the read-only columns must stay NULL
 * (read_only_hint says how), the columns Marketo matches by must not.
 */
static void
init_insert_checks(MktoModifyState *st, const char *read_only_hint)
{
	MktoTableOptions *opts = st->opts;
	const char *single[2];
	const char *const *keys = insert_keys(opts, st->insert_action, single);

	st->read_only_attnums = palloc0(sizeof(AttrNumber) * (opts->ncolumns + 1));
	for (int i = 0; i < opts->ncolumns; i++)
	{
		if (opts->columns[i].field && opts->columns[i].read_only)
			st->read_only_attnums[st->nread_only++] = opts->columns[i].attnum;
	}
	st->read_only_hint = read_only_hint;

	st->key_attnums = palloc0(sizeof(AttrNumber) * (opts->ncolumns + 1));
	for (; keys && *keys; keys++)
	{
		MktoColumn *column = mkto_column_by_field(opts, *keys);

		/* a NULL status has its own error (add_target) */
		if (column && !str_equal(*keys, opts->object->status_field))
			st->key_attnums[st->nkeys++] = column->attnum;
	}
}

/* The first enabled AFTER trigger for operation in trigdesc, or NULL. */
static const char *
after_trigger_name(TriggerDesc *trigdesc, CmdType operation, bool row_level_too)
{
	if (trigdesc == NULL)
		return NULL;
	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];
		int16		tgtype = trigger->tgtype;

		if (trigger->tgenabled == TRIGGER_DISABLED || !TRIGGER_FOR_AFTER(tgtype) ||
			(TRIGGER_FOR_ROW(tgtype) && !row_level_too))
			continue;
		if ((operation == CMD_INSERT && TRIGGER_FOR_INSERT(tgtype)) ||
			(operation == CMD_UPDATE && TRIGGER_FOR_UPDATE(tgtype)) ||
			(operation == CMD_DELETE && TRIGGER_FOR_DELETE(tgtype)))
			return trigger->tgname;
	}
	return NULL;
}

/*
 * UPDATE and DELETE send their rows once the scan has ended, in
 * EndForeignModify, and PostgreSQL fires AFTER triggers before that: such a
 * trigger would see Marketo unchanged, so it is refused before anything is
 * sent.  The statement's target (a partitioned table) has the statement
 * triggers; row triggers are on the partition itself.
 */
static void
refuse_after_triggers(ModifyTableState *mtstate, ResultRelInfo *rinfo, CmdType operation)
{
	ResultRelInfo *root = mtstate->rootResultRelInfo;
	ResultRelInfo *owner = rinfo;
	const char *name = after_trigger_name(rinfo->ri_TrigDesc, operation, true);

	if (name == NULL && root != NULL && root != rinfo)
	{
		name = after_trigger_name(root->ri_TrigDesc, operation, false);
		owner = root;
	}
	if (name == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s foreign table \"%s\" with AFTER trigger \"%s\" on \"%s\"",
					operation_name(operation), RelationGetRelationName(rinfo->ri_RelationDesc),
					name, RelationGetRelationName(owner->ri_RelationDesc)),
			 errdetail("marketo_fdw sends the rows of the %s to Marketo once the statement has read them all, after AFTER triggers have fired: the trigger would run before Marketo is changed.",
					   operation_name(operation)),
			 errhint("Use a BEFORE trigger, or do the trigger's work in a separate statement after this one.")));
}

/*
 * UPDATE under a BEFORE ROW trigger: the columns the statement does not set
 * are watched, and sent when the trigger changed them.
 */
static void
init_update_watch(MktoModifyState *st, ResultRelInfo *rinfo, Plan *subplan)
{
	List	   *watched = NIL;

	if (!(rinfo->ri_TrigDesc && rinfo->ri_TrigDesc->trig_update_before_row))
		return;
	for (int i = 0; i < st->opts->ncolumns; i++)
	{
		MktoColumn *column = &st->opts->columns[i];
		bool		set = false;

		for (int j = 0; j < st->ntargets; j++)
			set |= st->target_attnums[j] == column->attnum;
		if (column->field && !set)
			watched = lappend_int(watched, column->attnum);
	}
	st->nwatched = list_length(watched);
	st->watched = mkto_converters_for(st->opts, watched, &st->watched_attnums);
	st->wholerow_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	if (!AttributeNumberIsValid(st->wholerow_attno))
		elog(ERROR, "could not find junk column \"wholerow\"");
}

/*
 * Whether the statement's rows wait in the transaction's write buffer:
 * unless the table says write_batching 'statement', or the statement needs
 * Marketo's answer at once (RETURNING, AFTER triggers, ON CONFLICT DO
 * NOTHING's row count), or each row is its own call anyway (a per-record
 * update path).  A write that is not buffered first sends what is pending
 * for its instance, to keep Marketo's order.
 */
static void
choose_buffering(MktoModifyState *st, EState *estate, ResultRelInfo *rinfo,
				 bool needs_answer)
{
	st->buffered = st->opts->write_batching_transaction && !needs_answer &&
		!st->keep_existing && rinfo->ri_projectReturning == NULL &&
		after_trigger_name(rinfo->ri_TrigDesc, st->operation, true) == NULL &&
		!(st->operation == CMD_UPDATE && st->opts->object->update_path);
	if (!st->buffered)
	{
		mkto_flush_writes(st->opts->server->serverid);
		return;
	}
	st->target.serverid = st->opts->server->serverid;
	st->target.relid = st->opts->relid;
	st->target.userid = st->opts->user->userid;
	st->target.operation = st->operation;
	st->target.insert_action = st->operation == CMD_INSERT ? st->insert_action : NULL;
	st->target.batch_size = st->batch_size;
	st->statement = mkto_buffer_statement(estate);
}

/* Hands batch's rows to the transaction's write buffer. */
static void
buffer_batch(MktoModifyState *st, MktoBatch *batch)
{
	for (int i = 0; i < batch->count; i++)
		mkto_buffer_row(&st->target, st->statement,
						json_object_array_get_idx(batch->input, i), batch->keys[i],
						batch->row_keys[i], batch->statuses[i]);
}

void
marketoBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	MktoModifyState *st;
	MktoTableOptions *opts;
	List	   *targets = (List *) list_nth(fdw_private, MktoModifyTargetAttnums);
	bool		keep_existing = intVal(list_nth(fdw_private, MktoModifyKeepExisting)) != 0;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	if (mtstate->operation != CMD_INSERT)
		refuse_after_triggers(mtstate, rinfo, mtstate->operation);
	opts = mkto_get_table_options(RelationGetRelid(rinfo->ri_RelationDesc),
								  modify_user(estate, rinfo));
	if (mtstate->operation == CMD_INSERT)
		targets = insert_targets(opts);
	st = begin_modify(estate, rinfo, mtstate->operation, opts, targets);

	st->keep_existing = keep_existing;
	if (st->operation == CMD_INSERT)
	{
		st->insert_action = insert_action_for(opts, keep_existing);
		init_insert_checks(st, "Remove the column's default, or the trigger that sets it.");
	}
	else
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		st->rowid_attno = ExecFindJunkAttributeInTlist(subplan->targetlist,
													   MKTO_ROW_ID_NAME);
		if (!AttributeNumberIsValid(st->rowid_attno))
			elog(ERROR, "could not find junk column \"%s\"", MKTO_ROW_ID_NAME);
		if (st->opts->object->keyed_writes)
		{
			st->rowkey_attno = ExecFindJunkAttributeInTlist(subplan->targetlist,
															MKTO_ROW_KEY_NAME);
			if (!AttributeNumberIsValid(st->rowkey_attno))
				elog(ERROR, "could not find junk column \"%s\"", MKTO_ROW_KEY_NAME);
			st->rowkey_typid = mkto_column_by_field(st->opts,
													st->opts->object->injected_key_field)->typid;
		}
		if (st->operation == CMD_UPDATE)
			init_update_watch(st, rinfo, subplan);
	}
	/* the executor sets up RETURNING after this: the plan says */
	choose_buffering(st, estate, rinfo,
					 ((ModifyTable *) mtstate->ps.plan)->returningLists != NIL);
}

/*
 * COPY FROM, and rows routed to a partition that is a Marketo table.  As
 * for INSERT, every writable column is sent, and a value in a read-only
 * column is refused row by row.  Where nothing needs each row's result at
 * once (RETURNING, AFTER triggers) the rows go out in full batches.
 */
void
marketoBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	EState	   *estate = mtstate->ps.state;
	ResultRelInfo *root = mtstate->rootResultRelInfo;
	ModifyTable *plan = (ModifyTable *) mtstate->ps.plan;	/* NULL for COPY */
	bool		keep_existing = plan && plan->onConflictAction == ONCONFLICT_NOTHING;
	MktoTableOptions *opts;
	MktoModifyState *st;
	List	   *targets;
	List	   *fields = NIL;
	ListCell   *lc;

	/*
	 * An UPDATE that moves rows into a Marketo partition it also updates:
	 * PostgreSQL hands us the UPDATE's ResultRelInfo, whose state holds
	 * updates not yet sent.  As postgres_fdw does, refuse.
	 */
	if (rinfo->ri_FdwState != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot route tuples into foreign table to be updated \"%s\"",
						RelationGetRelationName(rinfo->ri_RelationDesc)),
				 errdetail("The UPDATE both changes rows of this Marketo table and moves rows into it."),
				 errhint("Move the rows in an UPDATE that leaves this table's rows alone, or UPDATE this table separately.")));

	opts = mkto_get_table_options(RelationGetRelid(rinfo->ri_RelationDesc),
								  modify_user(estate, rinfo));
	check_capability(opts, CMD_INSERT);
	targets = insert_targets(opts);
	foreach(lc, targets)
		fields = lappend(fields, opts->columns[lfirst_int(lc) - 1].field);
	check_insert_keys(opts, insert_action_for(opts, keep_existing), fields);

	st = begin_modify(estate, rinfo, CMD_INSERT, opts, targets);
	st->keep_existing = keep_existing;
	st->insert_action = insert_action_for(opts, keep_existing);
	init_insert_checks(st, "Leave the column out of the COPY column list.");

	/*
	 * Buffered rows go out when the COPY or the routing ends, after AFTER
	 * triggers have fired (and an UPDATE's routing batches nothing).
	 */
	st->buffer_inserts = mtstate->operation == CMD_INSERT &&
		rinfo->ri_projectReturning == NULL &&
		after_trigger_name(rinfo->ri_TrigDesc, CMD_INSERT, true) == NULL &&
		(root == NULL || after_trigger_name(root->ri_TrigDesc, CMD_INSERT, false) == NULL);
	choose_buffering(st, estate, rinfo, !st->buffer_inserts);
}

void
marketoEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	MktoModifyState *st = (MktoModifyState *) rinfo->ri_FdwState;

	if (st && st->buffer_inserts)
		send_batch(st, st->batch);
	marketoEndForeignModify(estate, rinfo);
}

/* Text of a datum for error messages, or "NULL". */
static char *
key_text(MktoConverter *conv, Datum value, bool isnull)
{
	if (isnull)
		return pstrdup("NULL");
	return OutputFunctionCall(&conv->output, value);
}

/*
 * Adds one column's value to record.  The injected key (a path parameter)
 * goes to *path_key and the status to *status, not the record; *key gets
 * the text of the lookup field.
 */
static void
add_target(MktoModifyState *st, json_object *record, MktoConverter *conv,
		   Datum value, bool isnull, char **path_key, char **status, char **key)
{
	const char *injected = st->opts->object->injected_key_field;
	const char *status_field = st->opts->object->status_field;

	if (injected && strcmp(conv->column->field, injected) == 0)
	{
		if (!isnull)
			*path_key = mkto_datum_to_text(conv->column->typid, value);
		return;
	}
	/* The status goes to its own call, which cannot clear it. */
	if (status_field && strcmp(conv->column->field, status_field) == 0)
	{
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_USE_OF_NULL_POINTER),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be set to NULL",
							conv->column->attname, st->opts->relname),
					 errdetail("Marketo sets %s through a call that takes a value.",
							   status_field)));
		*status = mkto_datum_to_text(conv->column->typid, value);
		return;
	}

	/* An INSERT leaves NULL fields unset, so createOrUpdate never blanks. */
	if (isnull && st->operation == CMD_INSERT)
		return;
	json_object_object_add(record, conv->column->field,
						   mkto_datum_to_json(conv, value, isnull));
	if (strcmp(conv->column->field, st->opts->lookup_field) == 0)
		*key = key_text(conv, value, isnull);
}

/* Adds the written columns of slot to record; returns the lookup key text. */
static char *
add_targets(MktoModifyState *st, json_object *record, TupleTableSlot *slot,
			char **path_key, char **status)
{
	char	   *key = NULL;

	for (int i = 0; i < st->ntargets; i++)
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, st->target_attnums[i], &isnull);

		add_target(st, record, &st->targets[i], value, isnull, path_key, status, &key);
	}
	return key;
}

/*
 * UPDATE: adds the columns a BEFORE ROW trigger changed, found by comparing
 * the final row with the old one, after the checks SET columns get.
 */
static void
add_trigger_changes(MktoModifyState *st, json_object *record, TupleTableSlot *slot,
					TupleTableSlot *planSlot, char **path_key, char **status)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	HeapTupleData oldtup;
	bool		isnull;
	Datum		wholerow;
	char	   *key = NULL;

	if (st->nwatched == 0)
		return;
	wholerow = ExecGetJunkAttribute(planSlot, st->wholerow_attno, &isnull);
	if (isnull)
		elog(ERROR, "wholerow is NULL");
	oldtup.t_data = DatumGetHeapTupleHeader(wholerow);
	oldtup.t_len = HeapTupleHeaderGetDatumLength(oldtup.t_data);
	ItemPointerSetInvalid(&oldtup.t_self);
	oldtup.t_tableOid = InvalidOid;

	for (int i = 0; i < st->nwatched; i++)
	{
		AttrNumber	attnum = st->watched_attnums[i];
		Form_pg_attribute attr = TupleDescAttr(tupdesc, attnum - 1);
		bool		old_isnull;
		Datum		old = heap_getattr(&oldtup, attnum, tupdesc, &old_isnull);
		Datum		value = slot_getattr(slot, attnum, &isnull);

		/* by image: the same value, however it is stored */
		if (isnull == old_isnull &&
			(isnull || datum_image_eq(old, value, attr->attbyval, attr->attlen)))
			continue;
		check_update_column(st->opts, st->watched[i].column, true);
		add_target(st, record, &st->watched[i], value, isnull, path_key, status, &key);
	}
}

/* INSERT: the fields Marketo matches records by must be set. */
static void
check_insert_key_values(MktoModifyState *st, TupleTableSlot *slot)
{
	for (int i = 0; i < st->nkeys; i++)
	{
		MktoColumn *column = &st->opts->columns[st->key_attnums[i] - 1];
		bool		isnull;

		(void) slot_getattr(slot, column->attnum, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_USE_OF_NULL_POINTER),
					 errmsg("cannot INSERT into foreign table \"%s\" with a NULL %s",
							st->opts->relname, column->field)));
	}
}

/*
 * Marketo matches the records by several fields together: the objects read
 * by their compound key (dedupe_fields of others are only required fields).
 */
static bool
is_compound_key(const MktoObjectDesc *obj)
{
	return mkto_object_source(obj, &mkto_source_compound) != NULL &&
		obj->dedupe_fields && obj->dedupe_fields[0] && obj->dedupe_fields[1];
}

/* "courseId PG-201, leadId 1002": every field of the key, as sent. */
static char *
compound_key_text(const MktoObjectDesc *obj, json_object *record)
{
	StringInfoData text;

	initStringInfo(&text);
	for (int i = 0; obj->dedupe_fields[i]; i++)
	{
		json_object *value = NULL;

		(void) json_object_object_get_ex(record, obj->dedupe_fields[i], &value);
		appendStringInfo(&text, "%s%s %s", i > 0 ? ", " : "", obj->dedupe_fields[i],
						 value ? json_object_get_string(value) : "(none)");
	}
	return text.data;
}

/* Adds the row's record to the batch. */
static void
add_row(MktoModifyState *st, TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->rows_cxt);
	MktoBatch  *batch = st->batch;
	json_object *record = json_object_new_object();
	char	   *key;

	/* Owned by the batch array from here on, so errors below leak nothing. */
	json_object_array_add(batch->input, record);

	if (st->operation == CMD_INSERT)
	{
		check_insert_key_values(st, slot);
		key = add_targets(st, record, slot, &batch->row_keys[batch->count],
						  &batch->statuses[batch->count]);
		if (key == NULL && batch->row_keys[batch->count])
			key = psprintf("%s %s", st->opts->object->injected_key_field,
						   batch->row_keys[batch->count]);
		else if (is_compound_key(st->opts->object))
			key = compound_key_text(st->opts->object, record);
		else
			key = psprintf("%s %s", st->opts->lookup_field, key ? key : "(none)");
	}
	else
	{
		bool		isnull;
		Datum		id = ExecGetJunkAttribute(planSlot, st->rowid_attno, &isnull);

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_USE_OF_NULL_POINTER),
					 errmsg("cannot %s a Marketo record whose %s is NULL",
							operation_name(st->operation), st->opts->object->id_field)));
		/* A per-record update path carries the id; the body must not. */
		if (st->operation == CMD_UPDATE && st->opts->object->update_path)
			batch->path_key = key_text(&st->id_converter, id, false);
		else
			json_object_object_add(record, st->opts->object->id_field,
								   mkto_datum_to_json(&st->id_converter, id, false));
		key = psprintf("%s %s", st->opts->object->id_field,
					   key_text(&st->id_converter, id, false));
		if (st->operation == CMD_UPDATE)
		{
			(void) add_targets(st, record, slot, &batch->path_key,
							   &batch->statuses[batch->count]);
			add_trigger_changes(st, record, slot, planSlot, &batch->path_key,
								&batch->statuses[batch->count]);
		}
		if (st->rowkey_attno)
		{
			Datum		rowkey = ExecGetJunkAttribute(planSlot, st->rowkey_attno, &isnull);

			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_USE_OF_NULL_POINTER),
						 errmsg("cannot %s a Marketo record whose %s is NULL",
								operation_name(st->operation),
								st->opts->object->injected_key_field)));
			batch->row_keys[batch->count] = mkto_datum_to_text(st->rowkey_typid, rowkey);
		}
	}
	batch->keys[batch->count++] = key;
	MemoryContextSwitchTo(oldcxt);
}

static const char *
skip_hint(const MktoObjectDesc *obj, const char *code)
{
	if (strcmp(code, "1005") == 0)
		return mkto_name_in_list("createOrUpdate", obj->insert_actions)
			? "The record already exists; insert_action 'createOrUpdate' updates existing records."
			: "The record already exists.";
	if (strcmp(code, "1004") == 0)
		return "The record does not exist in Marketo, or no longer does.";
	if (strcmp(code, "1007") == 0)
		return "Several records match the lookup value; use a lookup_field that is unique.";
	if (obj->benign_skip_code && strcmp(code, obj->benign_skip_code) == 0)
		return "The table option status_skips 'error' makes this skip fail the statement; 'warning' only counts it.";
	if (strcmp(code, "1006") == 0)
		return "A column's field option names a field Marketo does not know; run IMPORT FOREIGN SCHEMA again.";
	return NULL;
}

static const char *
json_string_member(json_object *obj, const char *name)
{
	json_object *value;

	if (obj && json_object_object_get_ex(obj, name, &value) && value)
		return json_object_get_string(value);
	return NULL;
}

static bool
is_applied_status(const char *status)
{
	return status && (strcmp(status, "created") == 0 ||
					  strcmp(status, "updated") == 0 ||
					  strcmp(status, "deleted") == 0 ||
					  strcmp(status, "added") == 0 ||
					  strcmp(status, "removed") == 0);
}

/* Whether result is a skip whose first reason has this code. */
static bool
skip_code_is(json_object *result, const char *code)
{
	json_object *reasons;

	return str_equal(json_string_member(result, "status"), "skipped") &&
		json_object_object_get_ex(result, "reasons", &reasons) &&
		json_object_is_type(reasons, json_type_array) &&
		json_object_array_length(reasons) > 0 &&
		str_equal(json_string_member(json_object_array_get_idx(reasons, 0), "code"), code);
}

/*
 * Whether result is Marketo's "not found" skip for a delete: 1004 for a
 * lead (and a lead not in the list), 1013 for other objects, 1037 for a
 * lead not in the program.
 */
static bool
is_not_found_skip(json_object *result)
{
	return skip_code_is(result, "1004") || skip_code_is(result, "1013") ||
		skip_code_is(result, "1037");
}

/*
 * Marketo's message when result is a skip with the object's benign code
 * (the record is already as asked) and the table lets it pass, else NULL.
 */
static const char *
benign_skip_message(MktoModifyState *st, json_object *result)
{
	json_object *reasons;
	const char *message;

	if (st->opts->object->benign_skip_code == NULL || st->opts->status_skips_error ||
		!skip_code_is(result, st->opts->object->benign_skip_code))
		return NULL;
	json_object_object_get_ex(result, "reasons", &reasons);
	message = json_string_member(json_object_array_get_idx(reasons, 0), "message");
	return message ? message : st->opts->object->benign_skip_code;
}

static void
add_key_member(json_object *body, const char *name, const char *value)
{
	if (name != NULL && value != NULL)
		json_object_object_add(body, name, json_object_new_string(value));
}

/* How split_by_key groups a batch's records. */
typedef enum MktoGrouping
{
	GROUP_WHOLE,				/* by key, the records as they are */
	GROUP_STATUS,				/* by key and status, the records' ids only */
	GROUP_DATA					/* by key, records that set more than the id */
} MktoGrouping;

/* The record as the grouping sends it, or NULL when it sends none. */
static json_object *
grouped_record(MktoModifyState *st, MktoBatch *batch, int i, MktoGrouping how)
{
	json_object *record = json_object_array_get_idx(batch->input, i);
	json_object *id;

	switch (how)
	{
		case GROUP_STATUS:
			if (batch->statuses[i] == NULL ||
				!json_object_object_get_ex(record, st->opts->object->id_field, &id))
				return NULL;
			record = json_object_new_object();
			json_object_object_add(record, st->opts->object->id_field, json_object_get(id));
			return record;
		case GROUP_DATA:
			if (json_object_object_length(record) <= 1)
				return NULL;
			break;
		case GROUP_WHOLE:
			break;
	}
	return json_object_get(record);
}

/*
 * Writes whose path names the injected key (a program, a list) go one call
 * per key value, and status writes one per key and status: the batch is
 * split into such groups, in order of first appearance, each with its
 * call's path.
 */
static List *
split_by_key(MktoModifyState *st, MktoBatch *batch, const char *path_template,
			 MktoGrouping how)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->rows_cxt);
	bool	   *done = palloc0(sizeof(bool) * (batch->count + 1));
	List	   *groups = NIL;

	for (int i = 0; i < batch->count; i++)
	{
		MktoBatch  *group;
		const char *status = how == GROUP_STATUS ? batch->statuses[i] : NULL;

		if (done[i])
			continue;
		group = palloc0(sizeof(MktoBatch));
		group->input = mkto_track_json(json_object_new_array());
		group->keys = palloc0(sizeof(char *) * batch->count);
		group->ids = palloc0(sizeof(json_object *) * batch->count);
		group->existed = palloc0(sizeof(bool) * batch->count);
		group->row_keys = palloc0(sizeof(char *) * batch->count);
		if (batch->queued)
			group->queued = palloc0(sizeof(MktoQueuedRow *) * batch->count);
		group->call_path = mkto_path_with_key(path_template, batch->row_keys[i]);
		group->status = (char *) status;
		for (int j = i; j < batch->count; j++)
		{
			json_object *record;

			if (done[j] || strcmp(batch->row_keys[j], batch->row_keys[i]) != 0 ||
				(how == GROUP_STATUS && !str_equal(batch->statuses[j], status)))
				continue;
			done[j] = true;
			record = grouped_record(st, batch, j, how);
			if (record == NULL)
				continue;
			json_object_array_add(group->input, record);
			group->keys[group->count] = batch->keys[j];
			group->row_keys[group->count] = batch->row_keys[j];
			if (batch->queued)
				group->queued[group->count] = batch->queued[j];
			group->count++;
		}
		groups = lappend(groups, group);
	}
	MemoryContextSwitchTo(oldcxt);
	return groups;
}

/* Marketo refuses request bodies over 1 MB (413); stay a little under. */
#define MKTO_MAX_BODY_BYTES		(1000 * 1000)

/*
 * Records [first, first + n) of batch as a batch of their own, sharing its
 * per-record arrays, so ids Marketo returns land where the caller looks.
 * It lives in rows_cxt, which send_call does not reset.
 */
static MktoBatch *
sub_batch(MktoModifyState *st, MktoBatch *batch, int first, int n)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->rows_cxt);
	MktoBatch  *sub = palloc(sizeof(MktoBatch));

	*sub = *batch;
	sub->input = mkto_track_json(json_object_new_array());
	for (int i = 0; i < n; i++)
		json_object_array_add(sub->input,
							  json_object_get(json_object_array_get_idx(batch->input, first + i)));
	sub->keys = batch->keys + first;
	sub->ids = batch->ids + first;
	sub->existed = batch->existed + first;
	sub->row_keys = batch->row_keys ? batch->row_keys + first : NULL;
	sub->statuses = batch->statuses ? batch->statuses + first : NULL;
	sub->queued = batch->queued ? batch->queued + first : NULL;
	sub->count = n;
	MemoryContextSwitchTo(oldcxt);
	return sub;
}

static void send_call(MktoModifyState *st, MktoBatch *batch);

/* A body over Marketo's size limit goes as two calls, halving as needed. */
static bool
sent_in_halves(MktoModifyState *st, MktoBatch *batch, size_t body_len)
{
	int			half = batch->count / 2;

	if (batch->count < 2 || body_len <= MKTO_MAX_BODY_BYTES)
		return false;
	send_call(st, sub_batch(st, batch, 0, half));
	send_call(st, sub_batch(st, batch, half, batch->count - half));
	return true;
}

/* Sends one call for batch and checks Marketo's answer for every record. */
static void
send_call(MktoModifyState *st, MktoBatch *batch)
{
	const MktoObjectDesc *obj = st->opts->object;
	MemoryContext oldcxt;
	json_object *body;
	MktoRequest req = {0};
	MktoResponse *resp;
	int			nresults;
	int			first_skip = -1;
	int			skips = 0;

	if (batch->count == 0)
		return;

	MemoryContextReset(st->call_cxt);
	oldcxt = MemoryContextSwitchTo(st->call_cxt);
	body = mkto_track_json(json_object_new_object());
	req.method = MKTO_POST;
	if (st->operation == CMD_INSERT && obj->insert_path && obj->insert_form_member)
	{
		StringInfoData form;

		/* The asset API: a form, answered with the parent, not per record. */
		initStringInfo(&form);
		mkto_append_query_param(&form, obj->insert_form_member,
								json_object_to_json_string_ext(batch->input, JSON_C_TO_STRING_PLAIN));
		if (sent_in_halves(st, batch, form.len))
		{
			MemoryContextSwitchTo(oldcxt);
			return;
		}
		req.path = batch->call_path;
		req.form_body = form.data;
		req.timeout_ms = obj->sync_timeout_ms;
		req.idempotent = false; /* appending twice would double them */
		(void) mkto_call(st->client, &req);
		st->sent += batch->count;
		st->applied += batch->count;
		for (int i = 0; batch->queued && i < batch->count; i++)
			batch->queued[i]->applied = true;
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	if (st->operation == CMD_DELETE)
	{
		add_key_member(body, obj->delete_key_param, obj->delete_key_value);
		req.path = batch->call_path ? batch->call_path : obj->delete_path;
		if (obj->delete_by_http_delete)
			req.method = MKTO_DELETE;
		req.timeout_ms = obj->delete_timeout_ms;
		req.idempotent = true;
	}
	else if (batch->call_path)
	{
		/*
		 * Adding a list member, setting a status or member data: repeating
		 * any of them leaves the same result.
		 */
		add_key_member(body, obj->status_field, batch->status);
		req.path = batch->call_path;
		req.timeout_ms = obj->sync_timeout_ms;
		req.idempotent = true;
	}
	else
	{
		const char *action = st->operation == CMD_INSERT
			? st->insert_action : obj->update_action;

		add_key_member(body, "action", action);
		if (st->operation == CMD_INSERT)
			add_key_member(body, obj->insert_key_param, st->opts->lookup_field);
		else
			add_key_member(body, obj->update_key_param, obj->update_key_value);
		req.path = obj->sync_path;
		if (st->operation == CMD_UPDATE && obj->update_path)
			req.path = mkto_path_with_key(obj->update_path, batch->path_key);
		req.timeout_ms = obj->sync_timeout_ms;
		/* Repeating a create could create twice. */
		req.idempotent = st->operation == CMD_UPDATE ||
			(action && strcmp(action, "createOrUpdate") == 0);
	}
	json_object_object_add(body, "input", json_object_get(batch->input));
	req.json_body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	if (sent_in_halves(st, batch, strlen(req.json_body)))
	{
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	resp = mkto_call(st->client, &req);
	st->sent += batch->count;

	nresults = resp->result ? (int) json_object_array_length(resp->result) : 0;
	if (resp->result == NULL || !json_object_is_type(resp->result, json_type_array) ||
		nresults != batch->count)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("malformed response from Marketo: %d results for %d records",
						nresults, batch->count),
				 errdetail("Request: POST /rest%s.", req.path)));

	for (int i = 0; i < nresults; i++)
	{
		json_object *result = json_object_array_get_idx(resp->result, i);
		const char *status = json_string_member(result, "status");
		json_object *id;
		const char *benign;

		if (is_applied_status(status) ||
			(st->operation == CMD_DELETE && resp->maybe_repeated && is_not_found_skip(result)))
		{
			/* (a not found after a repeated sending: that sending deleted it) */
			st->applied++;
			if (batch->queued)
				batch->queued[i]->applied = true;
			/* held in rows_cxt: the next call of a split batch resets call_cxt */
			if (json_object_object_get_ex(result, obj->id_field, &id))
			{
				MemoryContext callcxt = MemoryContextSwitchTo(st->rows_cxt);

				batch->ids[i] = mkto_track_json(json_object_get(id));
				MemoryContextSwitchTo(callcxt);
			}
		}
		else if (st->missing_unmatched && is_not_found_skip(result))
			st->unmatched++;
		else if (st->keep_existing && skip_code_is(result, "1005"))
		{
			st->existing_skips++;
			batch->existed[i] = true;
		}
		else if ((benign = benign_skip_message(st, result)) != NULL)
		{
			if (st->benign_skips++ == 0)
				st->benign_message = MemoryContextStrdup(st->rows_cxt, benign);
		}
		else
		{
			if (first_skip < 0)
				first_skip = i;
			skips++;
			if (batch->queued)
				batch->queued[i]->skipped = true;
		}
	}

	if (first_skip >= 0)
	{
		json_object *result = json_object_array_get_idx(resp->result, first_skip);
		json_object *reasons = NULL;
		json_object *reason = NULL;
		const char *code = "?";
		const char *message = "no reason given";
		const char *seq = json_string_member(result, "seq");
		const char *status = json_string_member(result, "status");
		const char *hint;

		if (json_object_object_get_ex(result, "reasons", &reasons) &&
			json_object_is_type(reasons, json_type_array) &&
			json_object_array_length(reasons) > 0)
			reason = json_object_array_get_idx(reasons, 0);
		if (json_string_member(reason, "code"))
			code = json_string_member(reason, "code");
		if (json_string_member(reason, "message"))
			message = json_string_member(reason, "message");
		hint = skip_hint(obj, code);

		if (batch->queued)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Marketo %s the %s of %s",
							status ? status : "rejected",
							operation_name(st->operation),
							mkto_buffer_row_label(batch->queued[first_skip])),
					 errdetail("Marketo error %s: %s (%s%s). %s",
							   code, message,
							   seq ? psprintf("seq %s", seq)
							   : psprintf("record %d of %d in the call", first_skip + 1, batch->count),
							   skips > 1 ? psprintf("; %d records of the call skipped", skips) : "",
							   mkto_buffer_outcome()),
					 hint ? errhint("%s", hint) : 0));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Marketo %s the %s of row %lld (%s)",
						status ? status : "rejected",
						operation_name(st->operation),
						(long long) (st->sent - batch->count + first_skip + 1),
						batch->keys[first_skip]),
				 errdetail("Marketo error %s: %s (%s%s). Marketo had already applied %lld of the %lld records this statement sent; it has no transactions, so those changes remain.",
						   code, message,
						   seq ? psprintf("seq %s", seq)
						   : psprintf("record %d of %d in the call", first_skip + 1, batch->count),
						   skips > 1 ? psprintf("; %d records of the call skipped", skips) : "",
						   (long long) st->applied, (long long) st->sent),
				 hint ? errhint("%s", hint) : 0));
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The calls that send batch: one per key value (and status) for writes
 * whose path names a key, else the batch as one call.
 */
static List *
batch_calls(MktoModifyState *st, MktoBatch *batch)
{
	const MktoObjectDesc *obj = st->opts->object;
	List	   *groups = NIL;

	if (batch->count == 0)
		return NIL;
	if (st->operation == CMD_DELETE && obj->keyed_writes)
		return split_by_key(st, batch, obj->delete_path, GROUP_WHOLE);
	if (obj->status_field)
	{
		/* the status first: for an INSERT it creates the membership */
		groups = split_by_key(st, batch, obj->status_path, GROUP_STATUS);
		return list_concat(groups, split_by_key(st, batch, obj->sync_path, GROUP_DATA));
	}
	if (st->operation == CMD_INSERT && obj->insert_path)
		return split_by_key(st, batch, obj->insert_path, GROUP_WHOLE);
	return list_make1(batch);
}

static void
send_calls(MktoModifyState *st, List *calls)
{
	ListCell   *lc;

	foreach(lc, calls)
		send_call(st, (MktoBatch *) lfirst(lc));
}

static void
send_batch(MktoModifyState *st, MktoBatch *batch)
{
	send_calls(st, batch_calls(st, batch));
}

/*
 * UPDATE and DELETE know all their rows once the scan has ended: a write
 * the call budget cannot finish is refused before any of it is sent, since
 * Marketo would keep the part that was.
 */
static void
check_write_budget(MktoModifyState *st, List *calls)
{
	int			budget = mkto_max_calls_per_statement();
	int64		made = mkto_statement_calls();
	int64		needed = 0;
	ListCell   *lc;

	foreach(lc, calls)
	{
		if (((MktoBatch *) lfirst(lc))->count > 0)
			needed++;
	}
	if (budget <= 0 || made + needed <= budget)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("the %s of foreign table \"%s\" needs %lld Marketo calls, more than the %lld that marketo_fdw.max_calls_per_statement (%d) leaves",
					operation_name(st->operation), st->opts->relname, (long long) needed,
					(long long) Max(budget - made, 0), budget),
			 errdetail_plural("The statement had already made %lld call. Nothing was sent: Marketo has no transactions, and would keep the part of a write sent before the budget ran out.",
							  "The statement had already made %lld calls. Nothing was sent: Marketo has no transactions, and would keep the part of a write sent before the budget ran out.",
							  made, (long long) made),
			 errhint("Narrow the query, or raise marketo_fdw.max_calls_per_statement for this session.")));
}

/* Puts the id Marketo assigned into the inserted row, for RETURNING. */
static void
store_returned_id(MktoModifyState *st, TupleTableSlot *slot, json_object *id)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	Datum	   *values;
	bool	   *nulls;
	AttrNumber	attnum;
	MemoryContext oldcxt;

	if (st->id_column == NULL || id == NULL)
		return;
	attnum = st->id_column->attnum;
	oldcxt = MemoryContextSwitchTo(st->tuple_cxt);
	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	memcpy(values, slot->tts_values, sizeof(Datum) * tupdesc->natts);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * tupdesc->natts);
	values[attnum - 1] = mkto_json_to_datum(&st->id_converter, id, &nulls[attnum - 1]);
	/* tuple_cxt outlives the row's use and is reset for the next rows */
	ExecForceStoreHeapTuple(heap_form_tuple(tupdesc, values, nulls), slot, false);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * INSERT sends at once (or buffers): the rows are new, so no scan can see
 * them.  Returns the batch sent, valid until the next call.
 */
static MktoBatch *
insert_rows(MktoModifyState *st, TupleTableSlot **slots, int n)
{
	MktoBatch  *sent;

	MemoryContextReset(st->tuple_cxt);
	MemoryContextReset(st->rows_cxt);
	start_batch(st);
	for (int i = 0; i < n; i++)
		add_row(st, slots[i], NULL);
	if (st->buffered)
	{
		buffer_batch(st, st->batch);
		mkto_buffer_send_full();
		start_batch(st);
		return NULL;
	}
	send_batch(st, st->batch);
	for (int i = 0; i < n; i++)
		store_returned_id(st, slots[i], st->batch->ids[i]);
	sent = st->batch;
	/* sent: nothing is left for EndForeignInsert to flush */
	start_batch(st);
	return sent;
}

/*
 * INSERT: a value in a column Marketo does not let us write is an error,
 * whether the statement, a default or a trigger put it there.
 */
static void
check_read_only_nulls(MktoModifyState *st, TupleTableSlot *slot)
{
	for (int i = 0; i < st->nread_only; i++)
	{
		bool		isnull;
		MktoColumn *column = &st->opts->columns[st->read_only_attnums[i] - 1];

		(void) slot_getattr(slot, column->attnum, &isnull);
		if (!isnull)
			read_only_column_error(st->opts, column, st->read_only_hint);
	}
}

TupleTableSlot *
marketoExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	MktoModifyState *st = (MktoModifyState *) rinfo->ri_FdwState;

	check_read_only_nulls(st, slot);
	if (st->buffered)
	{
		/* the command tag counts the rows queued */
		insert_rows(st, &slot, 1);
		return slot;
	}
	if (!st->buffer_inserts)
	{
		int64		existing_before = st->existing_skips;

		insert_rows(st, &slot, 1);
		/* ON CONFLICT DO NOTHING: the row was not inserted, as in PostgreSQL */
		return st->existing_skips > existing_before ? NULL : slot;
	}
	add_row(st, slot, NULL);
	if (st->batch->count >= st->batch_size)
	{
		send_batch(st, st->batch);
		MemoryContextReset(st->rows_cxt);
		start_batch(st);
	}
	return slot;
}

TupleTableSlot **
marketoExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
							  TupleTableSlot **slots, TupleTableSlot **planSlots,
							  int *numSlots)
{
	MktoModifyState *st = (MktoModifyState *) rinfo->ri_FdwState;

	MktoBatch  *sent;
	TupleTableSlot **inserted;
	int			ninserted = 0;

	for (int i = 0; i < *numSlots; i++)
		check_read_only_nulls(st, slots[i]);
	sent = insert_rows(st, slots, *numSlots);
	if (sent == NULL || st->existing_skips == 0)
		return slots;

	/*
	 * ON CONFLICT DO NOTHING: the rows Marketo already had were not
	 * inserted, and the executor counts the rows returned.  A new array:
	 * the executor reuses the slots it passed.
	 */
	inserted = MemoryContextAlloc(st->tuple_cxt, sizeof(TupleTableSlot *) * *numSlots);
	for (int i = 0; i < *numSlots; i++)
	{
		if (!sent->existed[i])
			inserted[ninserted++] = slots[i];
	}
	*numSlots = ninserted;
	return inserted;
}

int
marketoGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	MktoModifyState *st = (MktoModifyState *) rinfo->ri_FdwState;

	/* RETURNING and after-row triggers need each row's id at once. */
	if (st == NULL || rinfo->ri_projectReturning != NULL ||
		(rinfo->ri_TrigDesc && rinfo->ri_TrigDesc->trig_insert_after_row))
		return 1;
	return st->batch_size;
}

static TupleTableSlot *
buffer_row(ResultRelInfo *rinfo, TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	MktoModifyState *st = (MktoModifyState *) rinfo->ri_FdwState;

	add_row(st, slot, planSlot);
	if (st->batch->count >= st->batch_size)
	{
		st->pending = lappend(st->pending, st->batch);
		start_batch(st);
	}
	return slot;
}

TupleTableSlot *
marketoExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	return buffer_row(rinfo, slot, planSlot);
}

TupleTableSlot *
marketoExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	return buffer_row(rinfo, slot, planSlot);
}

/*
 * UPDATE and DELETE: the held batches, within the budget; or, buffered,
 * handed to the transaction's buffer, which sends the full ones now.
 */
static void
send_pending(MktoModifyState *st)
{
	List	   *calls = NIL;
	ListCell   *lc;

	st->pending = lappend(st->pending, st->batch);
	foreach(lc, st->pending)
		calls = list_concat(calls, batch_calls(st, (MktoBatch *) lfirst(lc)));
	check_write_budget(st, calls);
	if (st->buffered)
	{
		foreach(lc, st->pending)
			buffer_batch(st, (MktoBatch *) lfirst(lc));
		mkto_buffer_send_full();
	}
	else
		send_calls(st, calls);
	st->pending = NIL;
	start_batch(st);
}

/* The skips that did not fail the write, reported once it is sent. */
static void
report_passed_skips(MktoModifyState *st)
{
	if (st->existing_skips > 0)
		ereport(NOTICE,
				(errmsg("%lld record%s of the INSERT on foreign table \"%s\" already existed in Marketo and %s left unchanged",
						(long long) st->existing_skips, st->existing_skips == 1 ? "" : "s",
						st->opts->relname, st->existing_skips == 1 ? "was" : "were"),
				 errdetail("ON CONFLICT DO NOTHING sends action createOnly and ignores Marketo's 1005 skips.")));
	if (st->benign_skips > 0)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("Marketo skipped %lld record%s of the %s on foreign table \"%s\"",
						(long long) st->benign_skips, st->benign_skips == 1 ? "" : "s",
						operation_name(st->operation), st->opts->relname),
				 errdetail("Marketo code %s: %s. The record%s already as the statement asked.",
						   st->opts->object->benign_skip_code, st->benign_message,
						   st->benign_skips == 1 ? " was" : "s were"),
				 errhint("Set the table option status_skips 'error' to make such skips fail the statement.")));
}

/* The statement's notices, then its memory. */
static void
finish_modify(MktoModifyState *st, ResultRelInfo *rinfo)
{
	report_passed_skips(st);
	MemoryContextDelete(st->rows_cxt);
	MemoryContextDelete(st->call_cxt);
	rinfo->ri_FdwState = NULL;
}

void
marketoEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	MktoModifyState *st = (MktoModifyState *) rinfo->ri_FdwState;

	if (st == NULL)
		return;
	if (st->operation != CMD_INSERT)
		send_pending(st);
	finish_modify(st, rinfo);
}

/*
 * A direct UPDATE or DELETE: records made from ids alone, sent as an
 * UPDATE's or DELETE's held batches are.
 */
MktoModifyState *
mkto_direct_begin(EState *estate, ResultRelInfo *rinfo, CmdType operation,
				  List *targets)
{
	MktoTableOptions *opts = mkto_get_table_options(RelationGetRelid(rinfo->ri_RelationDesc),
													modify_user(estate, rinfo));
	MktoModifyState *st = begin_modify(estate, rinfo, operation, opts, targets);
	TupleDesc	id_desc = CreateTemplateTupleDesc(1);

	/* not buffered: the row count is Marketo's answer */
	mkto_flush_writes(opts->server->serverid);

	if (st->id_column == NULL)
		elog(ERROR, "marketo_fdw: no column maps field \"%s\"", opts->object->id_field);
	st->missing_unmatched = true;
	TupleDescInitEntry(id_desc, 1, MKTO_ROW_ID_NAME, st->id_column->typid,
					   st->id_column->typmod, 0);
	st->direct_id_slot = MakeSingleTupleTableSlot(id_desc, &TTSOpsVirtual);
	st->rowid_attno = 1;
	return st;
}

/* Adds the record of one id; values holds the SET columns. */
void
mkto_direct_add(MktoModifyState *st, TupleTableSlot *values, Datum id)
{
	TupleTableSlot *idslot = st->direct_id_slot;

	ExecClearTuple(idslot);
	idslot->tts_values[0] = id;
	idslot->tts_isnull[0] = false;
	ExecStoreVirtualTuple(idslot);
	add_row(st, values, idslot);
	if (st->batch->count >= st->batch_size)
	{
		st->pending = lappend(st->pending, st->batch);
		start_batch(st);
	}
}

/* Sends the records; the rows Marketo changed, and those it had not. */
int64
mkto_direct_send(MktoModifyState *st, int64 *unmatched)
{
	send_pending(st);
	*unmatched = st->unmatched;
	return st->applied;
}

void
mkto_direct_end(MktoModifyState *st, ResultRelInfo *rinfo)
{
	ExecDropSingleTupleTableSlot(st->direct_id_slot);
	finish_modify(st, rinfo);
}

Oid
mkto_direct_id_type(MktoModifyState *st)
{
	return st->id_column->typid;
}

/*
 * Sends rows the transaction's write buffer held (write_buffer.c) as one
 * batch of target, with the table's options and user mapping as they are
 * now; marks each row applied or skipped.  A skip fails, naming the row
 * and its statement.
 */
void
mkto_send_queued(const MktoWriteTarget *target, MktoQueuedRow **rows, int nrows)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "marketo_fdw buffered send",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	MktoModifyState *st = palloc0(sizeof(MktoModifyState));
	MktoBatch  *batch;

	st->operation = target->operation;
	/* the table's options say where and how to send */
	if (get_rel_name(target->relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("cannot send %d buffered row%s: their foreign table was dropped in this transaction",
						nrows, nrows == 1 ? "" : "s"),
				 errdetail("Marketo has not received them; the transaction rolls back, the DROP included."),
				 errhint("Let a read of the table send them before dropping it, or set the table option write_batching 'statement'.")));
	st->opts = mkto_get_table_options(target->relid, target->userid);
	st->insert_action = target->insert_action;
	st->client = mkto_connect(st->opts);
	st->batch_size = nrows;
	create_send_contexts(st, cxt);
	start_batch(st);
	batch = st->batch;
	batch->queued = palloc(sizeof(MktoQueuedRow *) * nrows);
	for (int i = 0; i < nrows; i++)
	{
		json_object_array_add(batch->input, json_object_get(rows[i]->record));
		batch->keys[i] = rows[i]->key;
		batch->row_keys[i] = rows[i]->row_key;
		batch->statuses[i] = rows[i]->status;
		batch->queued[i] = rows[i];
	}
	batch->count = nrows;
	send_batch(st, batch);
	report_passed_skips(st);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
}

void
marketoExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
							List *fdw_private, int subplan_index,
							ExplainState *es)
{
	Oid			relid = RelationGetRelid(rinfo->ri_RelationDesc);
	const MktoObjectDesc *obj = mkto_table_object(relid);

	const char *path = mtstate->operation == CMD_DELETE ? obj->delete_path
		: mtstate->operation == CMD_UPDATE && obj->update_path ? obj->update_path
		: mtstate->operation == CMD_INSERT && obj->insert_path ? obj->insert_path
		: obj->sync_path;

	ExplainPropertyText("Marketo Object", obj->name, es);
	if (mtstate->operation != CMD_DELETE && obj->status_field)
		ExplainPropertyText("Marketo Request",
							psprintf("POST /rest%s (%s), POST /rest%s (other fields)",
									 mkto_shown_path(obj, obj->status_path), obj->status_field,
									 mkto_shown_path(obj, obj->sync_path)), es);
	else
		ExplainPropertyText("Marketo Request",
							psprintf("%s /rest%s",
									 mtstate->operation == CMD_DELETE && obj->delete_by_http_delete
									 ? "DELETE" : "POST",
									 mkto_shown_path(obj, path)), es);
}

int
marketoIsForeignRelUpdatable(Relation rel)
{
	const MktoObjectDesc *obj = mkto_table_object(RelationGetRelid(rel));
	int			events = 0;

	if (obj->capabilities & MKTO_CAP_INSERT)
		events |= (1 << CMD_INSERT);
	if (obj->capabilities & MKTO_CAP_UPDATE)
		events |= (1 << CMD_UPDATE);
	if (obj->capabilities & MKTO_CAP_DELETE)
		events |= (1 << CMD_DELETE);
	return events;
}

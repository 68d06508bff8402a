/*-------------------------------------------------------------------------
 *
 * write_buffer.c
 *		  Write batching across the statements of a transaction.
 *
 * Drivers send batches as one statement per row (pgjdbc's executeBatch,
 * psycopg's executemany), each its own ModifyTable: sent per statement,
 * every row would be its own Marketo call.  So the rows of INSERT, UPDATE
 * and DELETE statements are held here, per table and action, until
 *
 *  - a full batch (the table's batch_size) is pending;
 *  - a later statement reads that instance (read-your-writes), or writes
 *    to it through another table or action (order: a lead is created
 *    before it is added to a list), or sends a write that is not buffered;
 *  - the transaction commits (XACT_EVENT_PRE_COMMIT: an error there fails
 *    the COMMIT, as a deferred constraint does).
 *
 * Rows not yet sent go with ROLLBACK, and with ROLLBACK TO SAVEPOINT those
 * buffered after the savepoint: each row is tagged with its subtransaction,
 * re-tagged to the parent when that commits.  The buffer lives in
 * TopTransactionContext, so an abort frees it, json-c records included.
 *
 * At most one table and action is pending per server: a write through
 * another first sends what is pending, which keeps Marketo's order.
 * Sending itself is modify.c's (mkto_send_queued): statuses, skips,
 * retries and error text are those of every write.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "marketo_fdw.h"
#include "write_buffer.h"

/* Statement text in messages is cut to this many bytes. */
#define MKTO_STATEMENT_TEXT_MAX	60
/* Statements listed one by one in an error's account of applied rows. */
#define MKTO_STATEMENTS_LISTED	10

typedef struct BufferedStatement
{
	char	   *text;			/* shortened */
	int64		rows;			/* rows it buffered */
	int64		applied;		/* of them, sent and applied */
	int64		skipped;		/* sent and skipped by Marketo */
	int64		dropped;		/* dropped by ROLLBACK TO SAVEPOINT */
} BufferedStatement;

/* The pending rows of one table and action. */
typedef struct WriteQueue
{
	MktoWriteTarget target;
	MktoQueuedRow **rows;
	int			nrows;
	int			maxrows;
} WriteQueue;

typedef struct WriteBuffer
{
	MemoryContext cxt;			/* child of TopTransactionContext */
	json_object *records;		/* holds a reference to every record */
	List	   *queues;			/* WriteQueue, at most one per server */
	BufferedStatement *statements;
	int			nstatements;
	int			maxstatements;
	/* the statement last registered, to know a new one */
	EState	   *last_estate;
	TimestampTz last_start;
	int			last_location;
	/* rows being sent, counted in an error's account */
	MktoQueuedRow **inflight;
	int			ninflight;
	bool		send_failed;	/* a send raised an error: no COMMIT */
	bool		outcome_given;	/* the error of the send says what was applied */
} WriteBuffer;

static WriteBuffer *buffer = NULL;

static WriteBuffer *
get_buffer(void)
{
	MemoryContext cxt;
	MemoryContext oldcxt;

	if (buffer != NULL)
		return buffer;
	cxt = AllocSetContextCreate(TopTransactionContext, "marketo_fdw write buffer",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	buffer = palloc0(sizeof(WriteBuffer));
	buffer->cxt = cxt;
	buffer->records = mkto_track_json(json_object_new_array());
	buffer->maxstatements = 16;
	buffer->statements = palloc0(sizeof(BufferedStatement) * buffer->maxstatements);
	MemoryContextSwitchTo(oldcxt);
	return buffer;
}

/* The statement's own text, on one line and cut short. */
static char *
short_statement_text(EState *estate)
{
	const char *source = estate->es_sourceText ? estate->es_sourceText : debug_query_string;
	PlannedStmt *stmt = estate->es_plannedstmt;
	int			location = stmt && stmt->stmt_location > 0 ? stmt->stmt_location : 0;
	int			len;
	StringInfoData buf;
	bool		blank = false;

	if (source == NULL)
		return pstrdup("(unknown)");
	len = stmt && stmt->stmt_len > 0 ? stmt->stmt_len : (int) strlen(source + location);
	source += location;
	initStringInfo(&buf);
	for (int i = 0; i < len && source[i] != '\0'; i++)
	{
		if (isspace((unsigned char) source[i]))
		{
			blank = buf.len > 0;
			continue;
		}
		if (blank)
			appendStringInfoChar(&buf, ' ');
		blank = false;
		appendStringInfoChar(&buf, source[i]);
	}
	if (buf.len > MKTO_STATEMENT_TEXT_MAX)
	{
		buf.len = pg_mbcliplen(buf.data, buf.len, MKTO_STATEMENT_TEXT_MAX);
		buf.data[buf.len] = '\0';
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/*
 * The number (from 1) of the statement of estate among the transaction's
 * statements that buffer rows; several tables of one statement share it.
 */
int
mkto_buffer_statement(EState *estate)
{
	WriteBuffer *buf = get_buffer();
	TimestampTz start = GetCurrentStatementStartTimestamp();
	int			location = estate->es_plannedstmt ? estate->es_plannedstmt->stmt_location : -1;
	MemoryContext oldcxt;
	BufferedStatement *stmt;

	if (buf->nstatements > 0 && buf->last_estate == estate &&
		buf->last_start == start && buf->last_location == location)
		return buf->nstatements;
	oldcxt = MemoryContextSwitchTo(buf->cxt);
	if (buf->nstatements == buf->maxstatements)
	{
		buf->maxstatements *= 2;
		buf->statements = repalloc(buf->statements,
								   sizeof(BufferedStatement) * buf->maxstatements);
	}
	stmt = &buf->statements[buf->nstatements++];
	memset(stmt, 0, sizeof(BufferedStatement));
	stmt->text = short_statement_text(estate);
	MemoryContextSwitchTo(oldcxt);
	buf->last_estate = estate;
	buf->last_start = start;
	buf->last_location = location;
	return buf->nstatements;
}

static bool
same_target(const MktoWriteTarget *a, const MktoWriteTarget *b)
{
	return a->relid == b->relid && a->userid == b->userid &&
		a->operation == b->operation &&
		(a->insert_action == NULL ? b->insert_action == NULL
		 : b->insert_action != NULL && strcmp(a->insert_action, b->insert_action) == 0);
}

static void
refuse_after_failed_send(WriteBuffer *buf)
{
	if (buf->send_failed)
		ereport(ERROR,
				(errcode(ERRCODE_IN_FAILED_SQL_TRANSACTION),
				 errmsg("an earlier send of buffered Marketo writes failed in this transaction"),
				 errdetail("Rows it held may have been applied in part; the transaction cannot commit."),
				 errhint("ROLLBACK the transaction.")));
}

static char *
short_row_label(const MktoQueuedRow *row)
{
	return psprintf("row %lld of buffered statement %d", (long long) row->position,
					row->statement);
}

/*
 * Errors of a send that do not come from a record (a failed call): which
 * rows it carried, and what Marketo had applied before.
 */
static void
send_error_context(void *arg)
{
	WriteBuffer *buf = (WriteBuffer *) arg;
	int64		applied = 0;

	if (buf->outcome_given || buf->ninflight == 0)
		return;
	for (int i = 0; i < buf->nstatements; i++)
		applied += buf->statements[i].applied;
	if (buf->ninflight == 1)
		errcontext("sending %s, held by this transaction; Marketo had applied %lld of its rows before",
				   short_row_label(buf->inflight[0]), (long long) applied);
	else
		errcontext("sending %d rows held by this transaction, %s to %s; Marketo had applied %lld of its rows before",
				   buf->ninflight, short_row_label(buf->inflight[0]),
				   short_row_label(buf->inflight[buf->ninflight - 1]), (long long) applied);
}

/* Sends the first n rows of queue as one batch. */
static void
send_rows(WriteBuffer *buf, WriteQueue *queue, int n)
{
	MktoQueuedRow **rows = MemoryContextAlloc(buf->cxt, sizeof(MktoQueuedRow *) * n);
	ErrorContextCallback errcallback;

	/* out of the queue first: rows a failed send had are never sent again */
	memcpy(rows, queue->rows, sizeof(MktoQueuedRow *) * n);
	memmove(queue->rows, queue->rows + n, sizeof(MktoQueuedRow *) * (queue->nrows - n));
	queue->nrows -= n;
	buf->inflight = rows;
	buf->ninflight = n;
	buf->send_failed = true;
	errcallback.callback = send_error_context;
	errcallback.arg = buf;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	mkto_send_queued(&queue->target, rows, n);
	error_context_stack = errcallback.previous;
	buf->send_failed = false;
	for (int i = 0; i < n; i++)
	{
		BufferedStatement *stmt = &buf->statements[rows[i]->statement - 1];

		stmt->applied += rows[i]->applied;
		stmt->skipped += rows[i]->skipped;
	}
	buf->inflight = NULL;
	buf->ninflight = 0;
	pfree(rows);
}

/* Sends queue's rows: all of them, or only its full batches. */
static void
send_queue(WriteBuffer *buf, WriteQueue *queue, bool full_only)
{
	int			batch = Max(queue->target.batch_size, 1);

	if (queue->nrows == 0)
		return;
	refuse_after_failed_send(buf);
	while (queue->nrows >= batch || (!full_only && queue->nrows > 0))
		send_rows(buf, queue, Min(queue->nrows, batch));
}

/* The queue of target, after sending what its server has pending for another. */
static WriteQueue *
queue_for(WriteBuffer *buf, const MktoWriteTarget *target)
{
	ListCell   *lc;
	WriteQueue *queue;
	MemoryContext oldcxt;

	foreach(lc, buf->queues)
	{
		queue = (WriteQueue *) lfirst(lc);
		if (queue->target.serverid != target->serverid)
			continue;
		if (same_target(&queue->target, target))
			return queue;
		send_queue(buf, queue, false);
		queue->target = *target;
		queue->target.insert_action = target->insert_action
			? MemoryContextStrdup(buf->cxt, target->insert_action) : NULL;
		return queue;
	}
	oldcxt = MemoryContextSwitchTo(buf->cxt);
	queue = palloc0(sizeof(WriteQueue));
	queue->target = *target;
	queue->target.insert_action = target->insert_action ? pstrdup(target->insert_action) : NULL;
	queue->maxrows = Max(target->batch_size, 1) * 2;
	queue->rows = palloc(sizeof(MktoQueuedRow *) * queue->maxrows);
	buf->queues = lappend(buf->queues, queue);
	MemoryContextSwitchTo(oldcxt);
	return queue;
}

static char *
copy_or_null(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/* Buffers one row of statement for target; full batches wait for mkto_buffer_send_full. */
void
mkto_buffer_row(const MktoWriteTarget *target, int statement, json_object *record,
				const char *key, const char *row_key, const char *status)
{
	WriteBuffer *buf = get_buffer();
	WriteQueue *queue;
	MemoryContext oldcxt;
	MktoQueuedRow *row;

	refuse_after_failed_send(buf);
	queue = queue_for(buf, target);
	oldcxt = MemoryContextSwitchTo(buf->cxt);
	if (queue->nrows == queue->maxrows)
	{
		queue->maxrows *= 2;
		queue->rows = repalloc(queue->rows, sizeof(MktoQueuedRow *) * queue->maxrows);
	}
	row = palloc0(sizeof(MktoQueuedRow));
	json_object_array_add(buf->records, json_object_get(record));
	row->record = record;
	row->key = copy_or_null(key);
	row->row_key = copy_or_null(row_key);
	row->status = copy_or_null(status);
	row->statement = statement;
	row->position = ++buf->statements[statement - 1].rows;
	row->subid = GetCurrentSubTransactionId();
	queue->rows[queue->nrows++] = row;
	MemoryContextSwitchTo(oldcxt);
}

/* Sends the full batches pending. */
void
mkto_buffer_send_full(void)
{
	ListCell   *lc;

	if (buffer == NULL)
		return;
	foreach(lc, buffer->queues)
		send_queue(buffer, (WriteQueue *) lfirst(lc), true);
}

/*
 * Sends every row pending for serverid (InvalidOid: for every server),
 * before a read of that instance or a write that is not buffered.
 */
void
mkto_flush_writes(Oid serverid)
{
	ListCell   *lc;

	if (buffer == NULL)
		return;
	foreach(lc, buffer->queues)
	{
		WriteQueue *queue = (WriteQueue *) lfirst(lc);

		if (serverid == InvalidOid || queue->target.serverid == serverid)
			send_queue(buffer, queue, false);
	}
}

/* "row 3 (email a@b) of buffered statement 2: INSERT INTO ...", for errors. */
char *
mkto_buffer_row_label(const MktoQueuedRow *row)
{
	return psprintf("row %lld (%s) of buffered statement %d: %s",
					(long long) row->position, row->key, row->statement,
					buffer->statements[row->statement - 1].text);
}

/*
 * What the transaction's buffered rows came to, for an error that fails
 * it: per statement, the rows Marketo applied (and keeps) of those it
 * buffered.
 */
char *
mkto_buffer_outcome(void)
{
	StringInfoData out;
	int64	   *applied;
	int64		total_applied = 0;
	int64		total_rows = 0;
	int			listed = 0;
	int64		rest_applied = 0;
	int64		rest_rows = 0;
	int			rest = 0;

	if (buffer == NULL)
		return pstrdup("");
	buffer->outcome_given = true;
	applied = palloc0(sizeof(int64) * (buffer->nstatements + 1));
	for (int i = 0; i < buffer->nstatements; i++)
		applied[i] = buffer->statements[i].applied;
	for (int i = 0; i < buffer->ninflight; i++)
		applied[buffer->inflight[i]->statement - 1] += buffer->inflight[i]->applied;

	initStringInfo(&out);
	for (int i = 0; i < buffer->nstatements; i++)
	{
		int64		rows = buffer->statements[i].rows - buffer->statements[i].dropped;

		if (rows <= 0)
			continue;
		total_applied += applied[i];
		total_rows += rows;
		if (listed++ < MKTO_STATEMENTS_LISTED)
			appendStringInfo(&out, "%sstatement %d: %lld of %lld", listed > 1 ? "; " : "",
							 i + 1, (long long) applied[i], (long long) rows);
		else
		{
			rest++;
			rest_applied += applied[i];
			rest_rows += rows;
		}
	}
	if (rest > 0)
		appendStringInfo(&out, "; %d more statements: %lld of %lld",
						 rest, (long long) rest_applied, (long long) rest_rows);
	/* per statement only when there are several */
	return psprintf("Marketo applied %lld of the %lld rows the transaction buffered%s%s%s; it has no transactions, so those remain. The other rows were not applied.",
					(long long) total_applied, (long long) total_rows,
					listed > 1 ? " (" : "", listed > 1 ? out.data : "", listed > 1 ? ")" : "");
}

/* ROLLBACK TO SAVEPOINT: the rows subid buffered go. */
static void
drop_rows_of(SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, buffer->queues)
	{
		WriteQueue *queue = (WriteQueue *) lfirst(lc);
		int			kept = 0;

		for (int i = 0; i < queue->nrows; i++)
		{
			if (queue->rows[i]->subid == subid)
				buffer->statements[queue->rows[i]->statement - 1].dropped++;
			else
				queue->rows[kept++] = queue->rows[i];
		}
		queue->nrows = kept;
	}
}

static void
retag_rows(SubTransactionId subid, SubTransactionId parent)
{
	ListCell   *lc;

	foreach(lc, buffer->queues)
	{
		WriteQueue *queue = (WriteQueue *) lfirst(lc);

		for (int i = 0; i < queue->nrows; i++)
		{
			if (queue->rows[i]->subid == subid)
				queue->rows[i]->subid = parent;
		}
	}
}

static bool
rows_pending(void)
{
	ListCell   *lc;

	if (buffer == NULL)
		return false;
	foreach(lc, buffer->queues)
	{
		if (((WriteQueue *) lfirst(lc))->nrows > 0)
			return true;
	}
	return false;
}

static void
write_buffer_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (buffer != NULL)
			{
				refuse_after_failed_send(buffer);
				mkto_flush_writes(InvalidOid);
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (rows_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has buffered Marketo writes"),
						 errdetail("Marketo has no two-phase commit."),
						 errhint("Set the option write_batching 'statement' for writes in prepared transactions.")));
			break;
		default:
			/* freed with TopTransactionContext */
			buffer = NULL;
			break;
	}
}

static void
write_buffer_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							  SubTransactionId parentSubid, void *arg)
{
	if (buffer == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		drop_rows_of(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		retag_rows(mySubid, parentSubid);
}

void
mkto_write_buffer_init(void)
{
	RegisterXactCallback(write_buffer_xact_callback, NULL);
	RegisterSubXactCallback(write_buffer_subxact_callback, NULL);
}

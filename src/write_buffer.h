/*-------------------------------------------------------------------------
 *
 * write_buffer.h
 *		  Rows written to Marketo tables, held across a transaction's
 *		  statements and sent in full batches (write_buffer.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WRITE_BUFFER_H
#define WRITE_BUFFER_H

#include "postgres.h"

#include "mkto_json.h"

#include "nodes/execnodes.h"

/* The table and action rows are buffered for: one call takes them all. */
typedef struct MktoWriteTarget
{
	Oid			serverid;
	Oid			relid;
	Oid			userid;			/* whose user mapping sends them */
	CmdType		operation;
	const char *insert_action;	/* INSERT only */
	int			batch_size;
} MktoWriteTarget;

/* One buffered row, as modify.c built its record. */
typedef struct MktoQueuedRow
{
	json_object *record;
	char	   *key;			/* readable key, for errors */
	char	   *row_key;		/* the injected key (a path parameter) */
	char	   *status;			/* the status_field value */
	int			statement;		/* the statement that wrote it, from 1 */
	int64		position;		/* its row in that statement, from 1 */
	SubTransactionId subid;		/* dropped when this subtransaction aborts */
	bool		applied;		/* set by the send: Marketo applied it */
	bool		skipped;		/* set by the send: Marketo skipped it */
} MktoQueuedRow;

extern void mkto_write_buffer_init(void);
extern int	mkto_buffer_statement(EState *estate);
extern void mkto_buffer_row(const MktoWriteTarget *target, int statement,
							json_object *record, const char *key,
							const char *row_key, const char *status);
extern void mkto_buffer_send_full(void);
extern char *mkto_buffer_row_label(const MktoQueuedRow *row);
extern char *mkto_buffer_outcome(void);

/* modify.c: sends buffered rows through the statements' send path */
extern void mkto_send_queued(const MktoWriteTarget *target, MktoQueuedRow **rows,
							 int nrows);

#endif							/* WRITE_BUFFER_H */

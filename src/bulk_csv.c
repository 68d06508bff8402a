/*-------------------------------------------------------------------------
 *
 * bulk_csv.c
 *		  Records of a bulk export file (CSV) as column values, parsed by
 *		  PostgreSQL's own COPY FROM reader fed from a callback.
 *
 * COPY is given a relation that has exactly the file's columns, in the
 * file's order: a private shallow copy of the foreign table's RelationData
 * whose tuple descriptor is built here, one attribute per Marketo field,
 * typed like the column it fills (text for a field that fills no column).
 * With every attribute read from the file, COPY evaluates no column
 * default (a volatile one such as nextval() would run per record) and
 * needs no column the file lacks.
 *
 * The copy is safe because BeginCopyFrom, NextCopyFrom and EndCopyFrom
 * (PostgreSQL 15's copyfrom.c and copyfromparse.c) only read from the
 * relation: rd_att for the attributes, their types and names,
 * rd_rel->relname for COPY's own error context (replaced here), and rd_id
 * for pg_stat_progress_copy.  build_column_default(), the one use of the
 * relation's constraints, is reached only for attributes missing from the
 * column list, and there are none.  The copy is never handed to the
 * relation cache, so the table's reference count is untouched.
 *
 * What COPY makes of Marketo's CSV (RFC 4180):
 * - The line ending is taken from the header line, which Marketo ends with
 *   \n; records then end only in \n.  \r and \n inside a quoted value are
 *   data.  Marketo quotes every value holding either, as RFC 4180 asks; an
 *   unquoted \r fails the statement ("unquoted carriage return found in
 *   data"), an unquoted \n splits the record (which then most likely fails
 *   with "missing data for column" or a conversion error).
 * - Unicode line separators (U+2028, U+2029) and other multibyte text are
 *   not line endings to COPY, so they pass through.
 * - The unquoted literal null is SQL NULL; "null" quoted is the string.
 * - NUL bytes would fail the UTF-8 check, so the data source strips them.
 * - A record that is exactly \. (unquoted, so only in a one-field file) is
 *   COPY's end-of-data marker.  COPY then stops before the file's end,
 *   which is caught, rather than records being lost.
 *
 * COPY counts the newlines inside quoted values too, so "line N" in
 * messages is the file's line (the header is line 1).  BeginCopyFrom also
 * reports the read in pg_stat_progress_copy, as a COPY FROM the foreign
 * table; inside a COPY (SELECT ...) TO that view loses the outer COPY while
 * a file is read.
 *
 * The header is checked here, not with COPY's HEADER MATCH: its message
 * cannot name the export, and attribute names are cut at NAMEDATALEN - 1
 * bytes while Marketo's field names may be longer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "bulk_csv.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* How much of a bad value an error context quotes, in bytes. */
#define CSV_VALUE_QUOTE_LEN 100

struct MktoCsvReader
{
	MemoryContext cxt;			/* everything of this reader */
	CopyFromState cstate;
	RelationData copy_rel;		/* rel with the file's columns, see above */
	Relation	rel;			/* the foreign table, for column names */
	int			nfields;
	const AttrNumber *attnums;
	const char *const *fields;
	MktoCsvRead read;
	void	   *read_arg;
	const char *what;
	bool		header_checked;
	bool		empty;			/* not even a header line */
	bool		eof;			/* read() has returned 0 */
	uint64		records;
};

/*
 * COPY's data source callback takes no argument: the reader being read is
 * set before every NextCopyFrom call, so one left over from an error is
 * never used, and several readers may be open in one query.
 */
static MktoCsvReader *csv_reading = NULL;

/* Removes NUL bytes from buf[0..len-1]; the bytes kept. */
static size_t
strip_nuls(char *buf, size_t len)
{
	char	   *nul = memchr(buf, '\0', len);
	char	   *src,
			   *dst,
			   *end = buf + len;

	if (nul == NULL)
		return len;
	for (src = dst = nul; src < end; src++)
		if (*src != '\0')
			*dst++ = *src;
	return dst - buf;
}

/* COPY's data source: the next bytes of the file, 0 at its end. */
static int
csv_source(void *outbuf, int minread, int maxread)
{
	MktoCsvReader *reader = csv_reading;

	Assert(reader != NULL);
	/* COPY asks for at least one byte: a chunk of only NULs is skipped. */
	while (!reader->eof)
	{
		size_t		got = reader->read(reader->read_arg, outbuf, maxread);

		if (got == 0)
			reader->eof = true;
		else if ((got = strip_nuls(outbuf, got)) > 0)
			return (int) got;
	}
	return 0;
}

/*
 * The field NextCopyFrom is converting, by the address of its attribute's
 * name: names cut at NAMEDATALEN - 1 bytes may repeat.
 */
static int
field_of_attname(MktoCsvReader *reader, const char *attname)
{
	TupleDesc	desc = reader->copy_rel.rd_att;

	for (int i = 0; i < reader->nfields; i++)
		if (attname == NameStr(TupleDescAttr(desc, i)->attname))
			return i;
	return -1;
}

static void
csv_error_callback(void *arg)
{
	MktoCsvReader *reader = (MktoCsvReader *) arg;
	CopyFromState cstate = reader->cstate;
	int			field = -1;
	StringInfoData where;

	initStringInfo(&where);
	appendStringInfo(&where, "%s, line %llu", reader->what,
					 (unsigned long long) cstate->cur_lineno);
	if (cstate->cur_attname)
		field = field_of_attname(reader, cstate->cur_attname);
	if (field >= 0)
	{
		AttrNumber	attnum = reader->attnums[field];

		if (attnum > 0)
			appendStringInfo(&where, ", column \"%s\" (Marketo field \"%s\")",
							 NameStr(TupleDescAttr(RelationGetDescr(reader->rel),
												   attnum - 1)->attname),
							 reader->fields[field]);
		else
			appendStringInfo(&where, ", Marketo field \"%s\"",
							 reader->fields[field]);
		if (cstate->cur_attval)
		{
			const char *val = cstate->cur_attval;
			int			len = strlen(val);
			int			cut = pg_mbcliplen(val, len, CSV_VALUE_QUOTE_LEN);

			appendStringInfo(&where, ": \"%.*s%s\"", cut, val,
							 cut < len ? "..." : "");
		}
		else
			appendStringInfoString(&where, ": null");
	}
	errcontext("%s", where.data);
}

/* The relation COPY reads into: rel's, with the file's columns. */
static void
init_copy_rel(MktoCsvReader *reader)
{
	TupleDesc	reldesc = RelationGetDescr(reader->rel);
	TupleDesc	desc = CreateTemplateTupleDesc(reader->nfields);

	for (int i = 0; i < reader->nfields; i++)
	{
		AttrNumber	attnum = reader->attnums[i];

		if (attnum > 0)
		{
			Form_pg_attribute att;

			if (attnum > reldesc->natts ||
				TupleDescAttr(reldesc, attnum - 1)->attisdropped)
				elog(ERROR, "invalid attribute number %d for a CSV field", attnum);
			att = TupleDescAttr(reldesc, attnum - 1);
			TupleDescInitEntry(desc, i + 1, reader->fields[i],
							   att->atttypid, att->atttypmod, att->attndims);
			TupleDescInitEntryCollation(desc, i + 1, att->attcollation);
		}
		else
			TupleDescInitEntry(desc, i + 1, reader->fields[i], TEXTOID, -1, 0);
	}
	memcpy(&reader->copy_rel, reader->rel, sizeof(RelationData));
	reader->copy_rel.rd_att = desc;
}

MktoCsvReader *
mkto_csv_begin(Relation rel, int nfields, const AttrNumber *attnums,
			   const char *const *fields, MktoCsvRead read, void *read_arg,
			   const char *what)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "marketo_fdw CSV reader",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MktoCsvReader *reader = palloc0(sizeof(MktoCsvReader));
	AttrNumber *attnums_copy = palloc(sizeof(AttrNumber) * nfields);
	char	  **fields_copy = palloc(sizeof(char *) * nfields);
	List	   *options;

	Assert(nfields > 0);
	for (int i = 0; i < nfields; i++)
	{
		attnums_copy[i] = attnums[i];
		fields_copy[i] = pstrdup(fields[i]);
	}
	reader->cxt = cxt;
	reader->rel = rel;
	reader->nfields = nfields;
	reader->attnums = attnums_copy;
	reader->fields = (const char *const *) fields_copy;
	reader->read = read;
	reader->read_arg = read_arg;
	reader->what = pstrdup(what);
	init_copy_rel(reader);

	options = list_make3(makeDefElem("format", (Node *) makeString("csv"), -1),
						 makeDefElem("null", (Node *) makeString("null"), -1),
						 makeDefElem("encoding", (Node *) makeString("UTF8"), -1));
	/* NIL: every attribute, in order, so no column default is evaluated. */
	reader->cstate = BeginCopyFrom(NULL, &reader->copy_rel, NULL, NULL, false,
								   csv_source, NIL, options);
	MemoryContextSwitchTo(old);
	return reader;
}

/* Reads the header line and checks it names the fields; false if none. */
static bool
check_header(MktoCsvReader *reader)
{
	char	  **names;
	int			nnames;

	if (!NextCopyFromRawFields(reader->cstate, &names, &nnames))
		return false;
	if (nnames != reader->nfields)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("unexpected header row in %s", reader->what),
				 errdetail("The header has %d fields, expected %d.",
						   nnames, reader->nfields)));
	for (int i = 0; i < nnames; i++)
	{
		/* an unquoted "null" is read as NULL, like any value */
		const char *name = names[i] ? names[i] : "null";

		if (strcmp(name, reader->fields[i]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("unexpected header row in %s", reader->what),
					 errdetail("Field %d is \"%s\", expected \"%s\".",
							   i + 1, name, reader->fields[i])));
	}
	return true;
}

bool
mkto_csv_next(MktoCsvReader *reader, ExprContext *econtext,
			  Datum *values, bool *nulls)
{
	ErrorContextCallback errcallback;
	MemoryContext old;
	bool		found;

	errcallback.callback = csv_error_callback;
	errcallback.arg = reader;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	csv_reading = reader;

	found = false;
	if (!reader->header_checked)
	{
		old = MemoryContextSwitchTo(reader->cxt);
		reader->header_checked = true;
		/* A file without even a header line has no records. */
		reader->empty = !check_header(reader);
		MemoryContextSwitchTo(old);
	}
	if (!reader->empty)
	{
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		found = NextCopyFrom(reader->cstate, econtext, values, nulls);
		MemoryContextSwitchTo(old);
		/* COPY asks for more until read() says the end, unless it saw \. */
		if (!found && !reader->eof)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("could not read %s past a record of only \\.", reader->what),
					 errdetail("COPY takes such a record for the end of its data.")));
	}

	csv_reading = NULL;
	error_context_stack = errcallback.previous;
	if (found)
		reader->records++;
	return found;
}

uint64
mkto_csv_records(const MktoCsvReader *reader)
{
	return reader->records;
}

void
mkto_csv_end(MktoCsvReader *reader)
{
	EndCopyFrom(reader->cstate);
	MemoryContextDelete(reader->cxt);
}

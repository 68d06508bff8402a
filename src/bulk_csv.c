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
 * The header is read here, before COPY starts, and the columns are taken
 * by name in the header's order, not with COPY's HEADER MATCH: its message
 * cannot name the export, attribute names are cut at NAMEDATALEN - 1 bytes
 * while Marketo's field names may be longer, and Marketo may add columns
 * (the docs say a job by programIds puts programId first).  A column
 * nobody asked for, or a repeat of one, is read as text and dropped; a
 * field asked for and missing fails the read.
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
/* A header line longer than this is not Marketo's. */
#define CSV_MAX_HEADER_LEN	(1024 * 1024)

struct MktoCsvReader
{
	MemoryContext cxt;			/* everything of this reader */
	CopyFromState cstate;
	RelationData copy_rel;		/* rel with the file's columns, see above */
	Relation	rel;			/* the foreign table, for column names */
	int			nfields;		/* asked for */
	const AttrNumber *attnums;
	const char *const *fields;
	int			ncolumns;		/* of the file */
	int		   *column_field;	/* per column, the field, or -1 */
	char	  **column_names;
	Datum	   *column_values;
	bool	   *column_nulls;
	StringInfoData head;		/* the bytes read to find the header */
	int			head_pos;		/* of them, handed to COPY so far */
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
	if (reader->head_pos < reader->head.len)
	{
		int			n = Min(maxread, reader->head.len - reader->head_pos);

		memcpy(outbuf, reader->head.data + reader->head_pos, n);
		reader->head_pos += n;
		return n;
	}
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

	for (int i = 0; i < reader->ncolumns; i++)
		if (attname == NameStr(TupleDescAttr(desc, i)->attname))
			return reader->column_field[i];
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
	TupleDesc	desc = CreateTemplateTupleDesc(reader->ncolumns);

	for (int i = 0; i < reader->ncolumns; i++)
	{
		int			field = reader->column_field[i];
		AttrNumber	attnum = field >= 0 ? reader->attnums[field] : 0;

		if (attnum > 0)
		{
			Form_pg_attribute att;

			if (attnum > reldesc->natts ||
				TupleDescAttr(reldesc, attnum - 1)->attisdropped)
				elog(ERROR, "invalid attribute number %d for a CSV field", attnum);
			att = TupleDescAttr(reldesc, attnum - 1);
			TupleDescInitEntry(desc, i + 1, reader->column_names[i],
							   att->atttypid, att->atttypmod, att->attndims);
			TupleDescInitEntryCollation(desc, i + 1, att->attcollation);
		}
		else
			TupleDescInitEntry(desc, i + 1, reader->column_names[i], TEXTOID, -1, 0);
	}
	memcpy(&reader->copy_rel, reader->rel, sizeof(RelationData));
	reader->copy_rel.rd_att = desc;
}

/*
 * Reads up to the end of the header line into reader->head, NUL bytes
 * stripped; false for a file without a single byte.
 */
static bool
read_header_line(MktoCsvReader *reader)
{
	char		buf[8192];

	while (memchr(reader->head.data, '\n', reader->head.len) == NULL)
	{
		size_t		got;

		if (reader->head.len > CSV_MAX_HEADER_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the header row of %s is longer than %d bytes",
							reader->what, CSV_MAX_HEADER_LEN)));
		got = reader->read(reader->read_arg, buf, sizeof(buf));
		if (got == 0)
		{
			reader->eof = true;
			break;
		}
		appendBinaryStringInfo(&reader->head, buf, (int) strip_nuls(buf, got));
	}
	return reader->head.len > 0;
}

/* The header's names: comma-separated, quoted as RFC 4180 says. */
static List *
header_names(const char *line, int len)
{
	List	   *names = NIL;
	StringInfoData name;
	bool		quoted = false;

	initStringInfo(&name);
	for (int i = 0; i <= len; i++)
	{
		char		c = i < len ? line[i] : ',';

		if (quoted)
		{
			if (c == '"' && i + 1 < len && line[i + 1] == '"')
				appendStringInfoChar(&name, line[++i]);
			else if (c == '"')
				quoted = false;
			else
				appendStringInfoChar(&name, c);
		}
		else if (c == '"')
			quoted = true;
		else if (c == ',')
		{
			names = lappend(names, pstrdup(name.data));
			resetStringInfo(&name);
		}
		else
			appendStringInfoChar(&name, c);
	}
	return names;
}

/* Maps the header's columns to the fields asked for. */
static void
map_header(MktoCsvReader *reader)
{
	char	   *end = memchr(reader->head.data, '\n', reader->head.len);
	int			len = end ? (int) (end - reader->head.data) : reader->head.len;
	List	   *names;
	bool	   *found = palloc0(sizeof(bool) * reader->nfields);

	if (len > 0 && reader->head.data[len - 1] == '\r')
		len--;
	names = header_names(reader->head.data, len);
	reader->ncolumns = list_length(names);
	reader->column_field = palloc(sizeof(int) * reader->ncolumns);
	reader->column_names = palloc(sizeof(char *) * reader->ncolumns);
	for (int i = 0; i < reader->ncolumns; i++)
	{
		char	   *name = list_nth(names, i);

		reader->column_names[i] = name;
		reader->column_field[i] = -1;
		for (int f = 0; f < reader->nfields; f++)
		{
			/* a repeat (programId asked for and added) is dropped */
			if (strcmp(name, reader->fields[f]) != 0 || found[f])
				continue;
			found[f] = true;
			reader->column_field[i] = f;
			break;
		}
	}
	for (int f = 0; f < reader->nfields; f++)
		if (!found[f])
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("unexpected header row in %s", reader->what),
					 errdetail("The header has no field \"%s\".", reader->fields[f])));
	reader->column_values = palloc(sizeof(Datum) * reader->ncolumns);
	reader->column_nulls = palloc(sizeof(bool) * reader->ncolumns);
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
	initStringInfo(&reader->head);

	/* A file without even a header line has no records. */
	reader->empty = !read_header_line(reader);
	if (!reader->empty)
	{
		map_header(reader);
		init_copy_rel(reader);
		options = list_make3(makeDefElem("format", (Node *) makeString("csv"), -1),
							 makeDefElem("null", (Node *) makeString("null"), -1),
							 makeDefElem("encoding", (Node *) makeString("UTF8"), -1));
		/* NIL: every attribute, in order, so no column default is evaluated. */
		reader->cstate = BeginCopyFrom(NULL, &reader->copy_rel, NULL, NULL, false,
									   csv_source, NIL, options);
	}
	MemoryContextSwitchTo(old);
	return reader;
}

/* Passes the header line, read and mapped at the start. */
static void
skip_header(MktoCsvReader *reader)
{
	char	  **names;
	int			nnames;

	if (!NextCopyFromRawFields(reader->cstate, &names, &nnames))
		reader->empty = true;
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
		if (!reader->empty)
			skip_header(reader);
		MemoryContextSwitchTo(old);
	}
	if (!reader->empty)
	{
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		found = NextCopyFrom(reader->cstate, econtext, reader->column_values,
							 reader->column_nulls);
		MemoryContextSwitchTo(old);
		if (found)
		{
			for (int i = 0; i < reader->ncolumns; i++)
			{
				int			f = reader->column_field[i];

				if (f >= 0)
				{
					values[f] = reader->column_values[i];
					nulls[f] = reader->column_nulls[i];
				}
			}
		}
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
	if (reader->cstate)
		EndCopyFrom(reader->cstate);
	MemoryContextDelete(reader->cxt);
}

/*-------------------------------------------------------------------------
 *
 * bulk_csv.h
 *		  Records of a bulk export file (CSV) as column values, parsed by
 *		  PostgreSQL's own COPY FROM reader fed from a callback, as
 *		  contrib/file_fdw does.
 *
 * Marketo's files: a header row of field names, RFC 4180 quoting, records
 * ending in \n, empty values as the literal null, possibly NUL bytes
 * (stripped) and carriage returns or Unicode line separators inside values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BULK_CSV_H
#define BULK_CSV_H

#include "postgres.h"

#include "nodes/execnodes.h"
#include "utils/relcache.h"

/* Fills buf with up to maxlen bytes of the file; 0 at its end. */
typedef size_t (*MktoCsvRead) (void *arg, char *buf, size_t maxlen);

typedef struct MktoCsvReader MktoCsvReader;

/*
 * Starts reading a file whose header must name each of
 * fields[0..nfields-1] (Marketo field names) once, in any order; other
 * columns are dropped.  Field i becomes a value of the
 * type of rel's attribute attnums[i], through that type's input function;
 * attnums[i] == 0 reads field i as text (a field the scan needs that is
 * not a column); no other column's default is evaluated.  what names the
 * file in messages ("the file of export job 1a2b..."); conversion errors
 * name it, the line, the column, the Marketo field and the value.  read is
 * first called here, for the header.  rel must stay open until
 * mkto_csv_end; the reader's memory is a child of CurrentMemoryContext.
 */
extern MktoCsvReader *mkto_csv_begin(Relation rel, int nfields,
									 const AttrNumber *attnums,
									 const char *const *fields,
									 MktoCsvRead read, void *read_arg,
									 const char *what);

/*
 * The next record: values[i], nulls[i] for field i, in econtext's
 * per-tuple memory (which the caller resets).  False at the end of the
 * file; a file of no bytes at all has no records.  The first call reads
 * and checks the header.
 */
extern bool mkto_csv_next(MktoCsvReader *reader, ExprContext *econtext,
						  Datum *values, bool *nulls);

/* Records read so far (the header not counted). */
extern uint64 mkto_csv_records(const MktoCsvReader *reader);

extern void mkto_csv_end(MktoCsvReader *reader);

#endif							/* BULK_CSV_H */

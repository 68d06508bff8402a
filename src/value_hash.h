/*-------------------------------------------------------------------------
 *
 * value_hash.h
 *		  Hash tables keyed by one SQL value, hashed and compared with an
 *		  equality operator's own functions (value_hash.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef VALUE_HASH_H
#define VALUE_HASH_H

#include "postgres.h"

#include "utils/hsearch.h"

typedef struct MktoValueHash MktoValueHash;

/* Every entry starts with its key. */
typedef struct MktoValueKey
{
	Datum		value;
	MktoValueHash *owner;		/* for its functions */
} MktoValueKey;

/*
 * Can values be hashed for opno (an equality operator whose two sides hash
 * alike, as PostgreSQL's own hashed forms ask) under collation?
 */
extern bool mkto_value_hash_usable(Oid opno, Oid collation);

/*
 * An empty table in cxt for values of type valuetype compared by opno,
 * entries of entrysize bytes (at least sizeof(MktoValueKey)).
 */
extern MktoValueHash *mkto_value_hash_create(Oid opno, Oid collation, Oid valuetype,
											 Size entrysize, long nelem,
											 MemoryContext cxt);

/*
 * The entry of value, made (zeroed, with the value copied into the table's
 * context) if new; *found tells which.  value must not be NULL.
 */
extern void *mkto_value_hash_enter(MktoValueHash *h, Datum value, bool *found);

/* The entry of value, or NULL. */
extern void *mkto_value_hash_find(MktoValueHash *h, Datum value);

extern long mkto_value_hash_count(MktoValueHash *h);

/* Each entry in turn (hash_seq_search), NULL at the end. */
extern void mkto_value_hash_start(MktoValueHash *h, HASH_SEQ_STATUS *status);

#endif							/* VALUE_HASH_H */

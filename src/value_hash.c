/*-------------------------------------------------------------------------
 *
 * value_hash.c
 *		  Hash tables keyed by one SQL value, hashed and compared with an
 *		  equality operator's own functions.
 *
 * The local recheck of "column = ANY (array)" (recheck.c) and the batched
 * join (join_exec.c) both match rows by an equality operator.  Hashing
 * with that operator's hash function and comparing with the operator
 * itself gives the answer the clause gives, whatever Marketo matched.
 * dynahash's callbacks get only the key, so each key carries its table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "value_hash.h"

struct MktoValueHash
{
	HTAB	   *htab;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	FmgrInfo	hash_fn;
	FmgrInfo	eq_fn;
	Size		entrysize;
	MemoryContext cxt;
};

static uint32
value_hash(const void *key, Size keysize)
{
	const MktoValueKey *k = key;

	return DatumGetUInt32(FunctionCall1Coll(&k->owner->hash_fn, k->owner->collation,
											k->value));
}

static int
value_match(const void *key1, const void *key2, Size keysize)
{
	const MktoValueKey *a = key1;
	const MktoValueKey *b = key2;

	return DatumGetBool(FunctionCall2Coll(&a->owner->eq_fn, a->owner->collation,
										  a->value, b->value)) ? 0 : 1;
}

bool
mkto_value_hash_usable(Oid opno, Oid collation)
{
	Oid			left_hash,
				right_hash;

	if (!get_op_hash_functions(opno, &left_hash, &right_hash) ||
		left_hash != right_hash)
		return false;
	return !OidIsValid(collation) || get_collation_isdeterministic(collation);
}

MktoValueHash *
mkto_value_hash_create(Oid opno, Oid collation, Oid valuetype, Size entrysize,
					   long nelem, MemoryContext cxt)
{
	MktoValueHash *h = MemoryContextAllocZero(cxt, sizeof(MktoValueHash));
	HASHCTL		ctl = {0};
	Oid			left_hash,
				right_hash;

	Assert(entrysize >= sizeof(MktoValueKey));
	if (!get_op_hash_functions(opno, &left_hash, &right_hash))
		elog(ERROR, "operator %u has no hash function", opno);
	fmgr_info_cxt(left_hash, &h->hash_fn, cxt);
	fmgr_info_cxt(get_opcode(opno), &h->eq_fn, cxt);
	get_typlenbyval(valuetype, &h->typlen, &h->typbyval);
	h->collation = collation;
	h->entrysize = entrysize;
	h->cxt = cxt;
	ctl.keysize = sizeof(MktoValueKey);
	ctl.entrysize = entrysize;
	ctl.hash = value_hash;
	ctl.match = value_match;
	ctl.hcxt = cxt;
	h->htab = hash_create("marketo_fdw values", Max(nelem, 16), &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	return h;
}

void *
mkto_value_hash_enter(MktoValueHash *h, Datum value, bool *found)
{
	MktoValueKey key = {value, h};
	MktoValueKey *entry = hash_search(h->htab, &key, HASH_ENTER, found);

	if (!*found)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(h->cxt);

		if (h->entrysize > sizeof(MktoValueKey))
			memset((char *) entry + sizeof(MktoValueKey), 0,
				   h->entrysize - sizeof(MktoValueKey));
		entry->value = datumCopy(value, h->typbyval, h->typlen);
		entry->owner = h;
		MemoryContextSwitchTo(oldcxt);
	}
	return entry;
}

void *
mkto_value_hash_find(MktoValueHash *h, Datum value)
{
	MktoValueKey key = {value, h};

	return hash_search(h->htab, &key, HASH_FIND, NULL);
}

long
mkto_value_hash_count(MktoValueHash *h)
{
	return hash_get_num_entries(h->htab);
}

void
mkto_value_hash_start(MktoValueHash *h, HASH_SEQ_STATUS *status)
{
	hash_seq_init(status, h->htab);
}

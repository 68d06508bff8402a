/*-------------------------------------------------------------------------
 *
 * source_listing.c
 *		  Read source of a parent's records without a filter: the parent's
 *		  listing (a program's leads) page by page, each page's ids then
 *		  queried as a filter within the parent (program members by lead id).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "read_source.h"

typedef struct ListingState
{
	const MktoSourceUse *use;
	MktoListedIds ids;
	char	   *listing_token;
	MemoryContext listing_cxt;	/* the current listing page's ids */
} ListingState;

/* The object's listing: the range source falls back to it too. */
const MktoSourceUse *
mkto_listing_use(const MktoObjectDesc *obj)
{
	return mkto_object_source(obj, &mkto_source_listing);
}

static bool
listing_plan(MktoSourcePlanInput *in, MktoSourcePlan *out)
{
	/* a listing call and a query call per page of records */
	out->calls = 2 * ceil((double) MKTO_ROWS_PER_PARENT / MKTO_PAGE_SIZE);
	out->estimated = true;
	return true;
}

static char *
listing_describe(const MktoSourceUse *use, const MktoObjectDesc *obj, List *private)
{
	return psprintf("none: ids listed by GET /rest%s, then filterType=%s",
					mkto_shown_path(obj, use->listing_path), use->field);
}

static void *
listing_begin(MktoScan *scan, List *private, List *exprs)
{
	ListingState *ls = palloc0(sizeof(ListingState));

	ls->use = mkto_listing_use(scan->opts->object);
	ls->listing_cxt = AllocSetContextCreate(CurrentMemoryContext,
											"marketo_fdw listing",
											ALLOCSET_SMALL_SIZES);
	return ls;
}

static int64
listing_rescan(MktoScan *scan, void *state)
{
	MemoryContextReset(((ListingState *) state)->listing_cxt);
	return 1;
}

static void
listing_start_pass(MktoScan *scan, void *state)
{
	ListingState *ls = state;

	ls->ids.values = NIL;
	ls->ids.next_value = 0;
	ls->listing_token = NULL;
	ls->ids.done = false;
}

/*
 * The ids of the next page of the parent's listing, as the values of the
 * following chunks.
 */
static void
fetch_listing_page(MktoScan *scan, ListingState *ls)
{
	const MktoSourceUse *use = ls->use;
	StringInfoData query;
	MktoRequest req = {0};
	MktoResponse *resp;
	MemoryContext oldcxt;
	char	   *token;

	/* the token lives in listing_cxt: keep it across the reset */
	token = ls->listing_token ? MemoryContextStrdup(scan->chunk_cxt, ls->listing_token) : NULL;
	MemoryContextReset(ls->listing_cxt);
	oldcxt = MemoryContextSwitchTo(ls->listing_cxt);
	initStringInfo(&query);
	mkto_append_query_param(&query, "fields", use->listing_id_field);
	mkto_append_page_params(&query, token);
	req.path = mkto_path_with_key(use->listing_path, scan->parent_key);
	req.query = query.data;
	resp = mkto_scan_read(scan, &req);
	mkto_listed_ids_take_page(&ls->ids, resp, use->listing_id_field, "a listed record",
							  req.path);
	ls->listing_token = mkto_page_token(resp, req.path, token, ls->listing_cxt);
	ls->ids.done = ls->listing_token == NULL;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The ids of a listing page's records (what: the records, for errors) as
 * the values of the next chunks.
 */
void
mkto_listed_ids_take_page(MktoListedIds *ids, MktoResponse *resp, const char *id_field,
						  const char *what, const char *path)
{
	int			n = resp->result ? (int) json_object_array_length(resp->result) : 0;

	ids->values = NIL;
	ids->next_value = 0;
	for (int i = 0; i < n; i++)
	{
		json_object *record = json_object_array_get_idx(resp->result, i);
		json_object *id;

		if (!json_object_is_type(record, json_type_object) ||
			!json_object_object_get_ex(record, id_field, &id) ||
			!(json_object_is_type(id, json_type_int) || json_object_is_type(id, json_type_string)))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("malformed response from Marketo: %s has no \"%s\"", what, id_field),
					 errdetail("Request: GET /rest%s.", path)));
		ids->values = lappend(ids->values, pstrdup(json_object_get_string(id)));
	}
}

bool
mkto_listed_ids_next_chunk(MktoScan *scan, MktoListedIds *ids,
						   void (*fetch_page) (MktoScan *scan, void *state),
						   void *state)
{
	while (ids->next_value >= list_length(ids->values))
	{
		if (ids->done)
			return false;
		CHECK_FOR_INTERRUPTS();
		fetch_page(scan, state);
	}
	ids->chunk = mkto_values_chunk(ids->values, &ids->next_value, MKTO_MAX_FILTER_VALUES);
	return true;
}

static void
fetch_listing_page_of(MktoScan *scan, void *state)
{
	fetch_listing_page(scan, (ListingState *) state);
}

static bool
listing_next_chunk(MktoScan *scan, void *state)
{
	ListingState *ls = state;

	return mkto_listed_ids_next_chunk(scan, &ls->ids, fetch_listing_page_of, ls);
}

static void
listing_request(MktoScan *scan, void *state, MktoRequest *req,
				StringInfo query, const char *page_token)
{
	ListingState *ls = state;

	mkto_filter_request(scan, ls->use, ls->use->field, ls->ids.chunk, NULL, req, query,
						page_token);
}

const MktoReadSource mkto_source_listing = {
	.name = "listing",
	.method = "REST listing",
	.plan = listing_plan,
	.describe = listing_describe,
	.shown_request = mkto_shown_get,
	.unfiltered_detail = mkto_filter_unfiltered_detail,
	.begin = listing_begin,
	.rescan = listing_rescan,
	.start_pass = listing_start_pass,
	.next_chunk = listing_next_chunk,
	.request = listing_request,
};

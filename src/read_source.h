/*-------------------------------------------------------------------------
 *
 * read_source.h
 *		  The read source interface: how a scan gets its records.
 *
 * An object's descriptor (objects.c) lists the sources it is read by, in
 * order of preference, each with its parameters (MktoSourceUse).  The
 * planner (plan.c) gives each in turn the quals; the first that can read
 * by them is the plan's.  The executor's scan (scan.c) then asks it for
 * chunks and, per chunk, the request of each page; it does the calls,
 * paging, parent keys, repeats and tuples itself.
 *
 * A scan of a parent-keyed object makes one pass per parent key value;
 * other objects make one pass.  Within a pass a source gives chunks (a
 * set of filter values, a window, a listing page's ids), and each chunk is
 * read page by page with nextPageToken.
 *
 *-------------------------------------------------------------------------
 */
#ifndef READ_SOURCE_H
#define READ_SOURCE_H

#include "marketo_fdw.h"

#include "datatype/timestamp.h"

/* Rows a filter value is assumed to match, when nothing better is known. */
#define MKTO_ROWS_PER_VALUE		1
#define MKTO_UNKNOWN_VALUES		10
/* Rows of a parent (a program) when nothing better is known. */
#define MKTO_ROWS_PER_PARENT	1000
/* Records per page of every paged read. */
#define MKTO_PAGE_SIZE			MKTO_MAX_BATCH

/* What planning hands a source. */
typedef struct MktoSourcePlanInput
{
	PlannerInfo *root;
	RelOptInfo *baserel;
	MktoTableOptions *opts;
	const MktoSourceUse *use;
	List	   *scan_clauses;	/* RestrictInfo */
	bool		has_parent_key; /* parent-keyed objects: a key is pushed */
	bool		has_filter;		/* the best pushable filter, not on the
								 * parent key */
	MktoFilterQual filter;
	/*
	 * The rows the query needs from this scan at most (LIMIT n of a query
	 * of this table alone), or -1: the whole result.
	 */
	double		limit_rows;
} MktoSourcePlanInput;

/* What a source's plan gives back. */
typedef struct MktoSourcePlan
{
	List	   *exprs;			/* Expr evaluated at execution */
	List	   *private;		/* the source's own facts, copyable nodes */
	double		calls;			/* per pass, one page per chunk */
	bool		estimated;		/* that count is a guess */
} MktoSourcePlan;

/* The part of the executor's scan a source reads and writes. */
typedef struct MktoScan
{
	ForeignScanState *node;
	MktoTableOptions *opts;
	const MktoSourceUse *use;
	MktoClient *client;
	List	   *fields;			/* String: requested, the id included */
	int			nfields;		/* of them, the ones the query uses */
	AttrNumber *attnums;		/* per used field, its column */
	char	   *fields_param;	/* the same without the injected key */
	char	   *parent_key;		/* the pass's parent key, or NULL */
	json_object *injected_key;	/* the key records lack, or NULL */
	MemoryContext scan_cxt;		/* this run's values, reset per run */
	MemoryContext chunk_cxt;	/* the current chunk, reset per chunk */
	MemoryContext page_cxt;		/* the current page, reset per call */
	/*
	 * Rows for the rest of the pass from another source that makes its own
	 * (next_row), which the plan's source handed the pass over to.
	 */
	const MktoReadSource *rows_source;
	void	   *rows_state;
	uint64		calls;			/* for EXPLAIN ANALYZE */
} MktoScan;

struct MktoReadSource
{
	const char *name;
	const char *method;			/* EXPLAIN's read method: "REST filter",
								 * "REST listing" or "bulk extract" */
	int			values_per_call;	/* filter values one call takes, for
									 * costing; 0: not read by values */
	bool		reads_all;		/* reads every record without a filter */
	double		rows_per_value; /* for costing: the records a filter value
								 * matches (a lead's activities); 0:
								 * MKTO_ROWS_PER_VALUE */
	bool		reads_all_parents;	/* reads a parent-keyed object without
									 * a parent key */

	/* Planning: false when the quals give this source nothing to read by. */
	bool		(*plan) (MktoSourcePlanInput *in, MktoSourcePlan *out);
	/* Optional: a source that lists every record of a table of unknown
	 * size, for costing a read without a filter: the records assumed
	 * (for the calls, not the planner's row estimate), and the calls to
	 * read that many. */
	double		(*listing_rows) (void);
	double		(*listing_calls) (double rows);
	/* Optional: values the clauses give it, for costing; 0 for none. */
	int			(*known_values) (MktoSourcePlanInput *in);
	/* EXPLAIN: the "Marketo Filter" and VERBOSE "Marketo Request" texts. */
	char	   *(*describe) (const MktoSourceUse *use, const MktoObjectDesc *obj,
							 List *private);
	char	   *(*shown_request) (const MktoSourceUse *use, const MktoObjectDesc *obj);
	/* Why an object first read by this source needs a filter; may be NULL
	 * only for a source that always plans (reads_all). */
	char	   *(*unfiltered_detail) (const MktoObjectDesc *obj);

	/* Execution: state in the query's context, from the plan. */
	void	   *(*begin) (MktoScan *scan, List *private, List *exprs);
	/* Each run (the first and every rescan): the fewest calls per pass. */
	int64		(*rescan) (MktoScan *scan, void *state);
	void		(*start_pass) (MktoScan *scan, void *state);
	/* The next chunk of the pass, in chunk_cxt; false when it is over. */
	bool		(*next_chunk) (MktoScan *scan, void *state);
	/* A page's request for the current chunk, in page_cxt. */
	void		(*request) (MktoScan *scan, void *state, MktoRequest *req,
							StringInfo query, const char *page_token);
	/*
	 * Optional, for a source whose chunks are read independently of each
	 * other (filter values): the current chunk, copied into
	 * CurrentMemoryContext (NULL: read this scan's chunks one at a time),
	 * and that copy made the current chunk again.
	 * The scan then sends the first pages of several chunks of a pass
	 * together, and reads on from each in turn.  It does so too for the
	 * first chunks of several passes (parent keys): each pass is then
	 * started again (start_pass, next_chunk) before its chunk is restored,
	 * so a source with these two callbacks must make no call in those.
	 */
	void	   *(*save_chunk) (MktoScan *scan, void *state);
	void		(*restore_chunk) (MktoScan *scan, void *state, void *chunk);
	/* Optional: the page's records; NULL: the response's result. */
	json_object *(*records) (MktoScan *scan, void *state, MktoResponse *resp);

	/*
	 * Optional, for a source that makes its own rows (bulk extract files):
	 * stores the next row in the slot, false when there is none; chunks,
	 * pages and the repeat filter are then not used.
	 */
	bool		(*next_row) (MktoScan *scan, void *state, TupleTableSlot *slot);
	/* Optional: the scan ends or restarts; let go of what is running. */
	void		(*end) (MktoScan *scan, void *state);
};

extern const MktoReadSource mkto_source_filter;
extern const MktoReadSource mkto_source_range;
extern const MktoReadSource mkto_source_listing;
extern const MktoReadSource mkto_source_browse;
extern const MktoReadSource mkto_source_by_key;
extern const MktoReadSource mkto_source_compound;
extern const MktoReadSource mkto_source_every;
extern const MktoReadSource mkto_source_new_leads;
extern const MktoReadSource mkto_source_bulk;
/* source_activities.c: the activity endpoints, from a paging token */
extern const MktoReadSource mkto_source_activities;
extern const MktoReadSource mkto_source_deleted_leads;
extern const MktoReadSource mkto_source_lead_changes;
/* source_offset.c: the catalog objects' reads */
extern const MktoReadSource mkto_source_asset_filter;
extern const MktoReadSource mkto_source_asset_listing;
extern const MktoReadSource mkto_source_by_param;

/* scan.c: for the sources */
extern MktoResponse *mkto_scan_read(MktoScan *scan, MktoRequest *req);
extern char *mkto_page_token(MktoResponse *resp, const char *path,
							 const char *previous, MemoryContext cxt);
/*
 * The distinct values to send; when comma_joined (several go in one
 * comma-separated parameter, which has no escape), a value holding a
 * comma is an error.
 */
extern List *mkto_scan_values(MktoScan *scan, ExprState *state, Oid type,
							  bool is_array, const char *field, bool comma_joined);
extern char *mkto_values_chunk(List *values, int *next, int limit);
extern void mkto_append_page_params(StringInfo query, const char *page_token);
extern char *mkto_shown_get(const MktoSourceUse *use, const MktoObjectDesc *obj);

/* source_filter.c: filterType/filterValues planning, for by-key reads too */
typedef struct MktoValuesState
{
	char	   *field;
	bool		is_array;
	ExprState  *value_state;
	Oid			value_type;		/* element type for arrays */
	List	   *values;			/* char *, this run's */
	int			next_value;
	char	   *chunk;			/* comma-joined values of the chunk */
	bool		chunk_at_a_time;	/* no chunks read together (LIMIT) */
} MktoValuesState;

extern bool mkto_plan_values(MktoSourcePlanInput *in, MktoSourcePlan *out,
							 int per_call);
extern void *mkto_begin_values(MktoScan *scan, List *private, List *exprs);
extern void mkto_values_start_pass(MktoScan *scan, void *state);
extern void *mkto_values_save_chunk(MktoScan *scan, void *state);
extern void mkto_values_restore_chunk(MktoScan *scan, void *state, void *chunk);
extern int64 mkto_rescan_values(MktoScan *scan, MktoValuesState *vs, int per_call);
extern void mkto_filter_request(MktoScan *scan, const MktoSourceUse *use,
								const char *field, const char *values,
								char *const *window, MktoRequest *req,
								StringInfo query, const char *page_token);
extern char *mkto_filter_unfiltered_detail(const MktoObjectDesc *obj);


/*
 * source_listing.c: ids listed page by page, each page's read 300 a chunk
 * by a filter, for the sources that list before they read.
 */
typedef struct MktoListedIds
{
	List	   *values;			/* char *: the ids of the listed page */
	int			next_value;
	char	   *chunk;			/* comma-joined ids of the chunk */
	bool		done;			/* the listing has no more pages */
} MktoListedIds;

extern void mkto_listed_ids_take_page(MktoListedIds *ids, MktoResponse *resp,
									  const char *id_field, const char *what,
									  const char *path);
/* The next chunk of ids, calling fetch_page(scan, state) for more. */
extern bool mkto_listed_ids_next_chunk(MktoScan *scan, MktoListedIds *ids,
									   void (*fetch_page) (MktoScan *scan, void *state),
									   void *state);

/*
 * source_new_leads.c: the New Lead activities (type 12), one per lead at
 * its creation, which list leads in creation order; the bulk source dates
 * the first lead by them.
 */
#define MKTO_NEW_LEAD_ACTIVITY	"12"
#define MKTO_ACTIVITIES_PATH	"/v1/activities.json"
#define MKTO_PAGING_TOKEN_PATH	"/v1/activities/pagingtoken.json"
/* Before Marketo existed: no lead was created earlier. */
#define MKTO_EARLIEST_LEAD		"2006-01-01T00:00:00Z"

/* The paging token that starts the activities at since, copied into cxt. */
extern char *mkto_activity_paging_token(MktoScan *scan, const char *since,
										MemoryContext cxt);

/* Whole seconds, as Marketo's datetimes have them. */
static inline TimestampTz
mkto_whole_second_down(TimestampTz t)
{
	return t - ((t % USECS_PER_SEC) + USECS_PER_SEC) % USECS_PER_SEC;
}

static inline TimestampTz
mkto_whole_second_up(TimestampTz t)
{
	TimestampTz down = mkto_whole_second_down(t);

	return down == t ? t : down + USECS_PER_SEC;
}

/*
 * convert.c: the Marketo dataTypes of activity values, lists of named
 * values that their jsonb columns hold as objects by name.
 */
#define MKTO_TYPE_ACTIVITY_ATTRIBUTES	"activity_attributes"
#define MKTO_TYPE_LEAD_FIELD_CHANGES	"lead_field_changes"
/*
 * An activity's attributes as an object: [{name, value}] becomes {name:
 * value}; an object, or a text holding one (bulk CSV), stays as it is.
 * Returns value itself or a new object the caller owns.
 */
extern json_object *mkto_activity_attributes(json_object *value);
/* A record's members of those dataTypes (obj's static columns) converted. */
extern void mkto_activity_record_values(const MktoObjectDesc *obj, json_object *record);

/* source_bulk.c: its settings, from _PG_init */
extern void mkto_bulk_source_init(void);

/* the every source falls back to the listing */
extern const MktoSourceUse *mkto_listing_use(const MktoObjectDesc *obj);

#endif							/* READ_SOURCE_H */

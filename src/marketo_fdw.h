/*-------------------------------------------------------------------------
 *
 * marketo_fdw.h
 *		  Declarations shared by the PostgreSQL side of marketo_fdw.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MARKETO_FDW_H
#define MARKETO_FDW_H

#include "postgres.h"

#include "mkto_json.h"

#include "commands/explain.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"

#include "mkto_client.h"

/*
 * Built and tested against PostgreSQL 15 only: the executor and permission
 * APIs it uses changed in 16 (RTEPermissionInfo) and earlier in 14.
 */
#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "marketo_fdw supports PostgreSQL 15 only"
#endif

/* ---------------------------------------------------------------------
 * objects.c: the object descriptor table.  Scan, modify and import code
 * read everything object-specific from here.
 * ---------------------------------------------------------------------
 */
#define MKTO_CAP_SELECT		0x01
#define MKTO_CAP_INSERT		0x02
#define MKTO_CAP_UPDATE		0x04
#define MKTO_CAP_DELETE		0x08

typedef enum MktoDescribeStyle
{
	MKTO_DESCRIBE_NONE,			/* no describe call: static_columns */
	MKTO_DESCRIBE_LEAD,			/* entries with rest{name,readOnly}, plus
								 * describe2 for searchable fields */
	MKTO_DESCRIBE_STANDARD		/* one entry: idField, dedupeFields,
								 * searchableFields, fields[updateable] */
} MktoDescribeStyle;

/* A column IMPORT creates for an object that has no describe call. */
typedef struct MktoStaticColumn
{
	const char *field;
	const char *column;			/* column name, when not snake_case(field) */
	const char *data_type;		/* Marketo dataType, mapped as in describe */
	bool		read_only;
	bool		searchable;
} MktoStaticColumn;

/*
 * A read source an object is read by, with its parameters (read_source.h
 * defines the sources).  Fields a source does not read are left zero.
 */
typedef struct MktoReadSource MktoReadSource;

typedef struct MktoSourceUse
{
	const MktoReadSource *source;	/* NULL ends the list */
	const char *path;			/* "%s" = the parent key, or the value read by */
	bool		takes_fields;	/* the call accepts fields= */
	const char *limit_hint;		/* the errhint for a 1003 */
	const char *field;			/* range: the windows' field; listing: the
								 * filterType of the listed ids; asset
								 * filter, by parameter: the field read by */
	int			max_days;		/* range: the longest window one call takes */
	const char *listing_path;	/* listing: "%s" = the parent key */
	const char *listing_id_field;
	bool		paged;			/* by key: batchSize, nextPageToken */
	const char *records_member; /* by key: records are result[0][this] */
	int			values_per_call;	/* by parameter: values a call takes;
									 * 0: Marketo's filter limit */
} MktoSourceUse;

#define MKTO_MAX_SOURCES	6

typedef struct MktoObjectDesc
{
	const char *name;			/* foreign table name IMPORT creates */
	MktoDescribeStyle describe_style;
	const char *describe_path;
	const char *describe2_path; /* searchable/updateable fields, or NULL */
	const char *sync_path;		/* create/update */
	const char *delete_path;
	const char *id_field;		/* REST name of the record id */
	/* Sync and delete bodies: the key member's name, and for UPDATE/DELETE
	 * its value; NULL where Marketo takes none. */
	const char *insert_key_param;	/* "lookupField" = lookup_field option */
	const char *update_key_param;
	const char *update_key_value;
	const char *delete_key_param;
	const char *delete_key_value;
	const char *default_lookup_field;	/* lookupField unless the option says;
										 * NULL: the first dedupe field */
	const char *const *dedupe_fields;	/* all of these an INSERT must set
										 * (objects without lookupField) */
	const char *update_action;	/* action for UPDATE */
	const char *const *insert_actions;	/* allowed, the first is default;
										 * NULL: the call takes no action */
	/* Known without a describe call, for hand-written tables. */
	const char *const *searchable_fields;
	const char *const *read_only_fields;
	/*
	 * Records that live inside a parent (a program's members): every read
	 * is within one value of this field, which the sources' paths name.
	 */
	const char *parent_key;
	MktoSourceUse reads[MKTO_MAX_SOURCES];	/* in order of preference */
	const char *injected_key_field; /* the key a path names, absent from
									 * the records: filled from the value */
	const char *update_path;	/* per-record update, "%s" = the id; NULL:
								 * batched through sync_path */
	const char *const *update_fields;	/* only these may be updated; NULL:
										 * any writable */
	const MktoStaticColumn *static_columns; /* for IMPORT without describe */
	/* INSERT by the injected key: one form POST per key value to
	 * insert_path, records in form member insert_form_member; Marketo
	 * answers with the updated parent, not per record. */
	const char *insert_path;
	const char *insert_form_member;	/* NULL: JSON input, answered per record */
	bool		keyed_writes;	/* write paths name the injected key too */
	bool		delete_by_http_delete;	/* delete_path takes HTTP DELETE */
	/*
	 * A field written through its own call, one per value, with the value
	 * as a body member (a program member's status); other written fields go
	 * to sync_path.
	 */
	const char *status_field;
	const char *status_path;	/* "%s" = the parent key */
	const char *benign_skip_code;	/* a skip that leaves the record as asked
									 * for: counted in a WARNING, not an error */
	int			max_batch;		/* records per write call */
	uint32		capabilities;
	long		query_timeout_ms;
	long		sync_timeout_ms;
	long		delete_timeout_ms;
	long		describe_timeout_ms;
} MktoObjectDesc;

extern const MktoObjectDesc *mkto_find_object(const char *name);
extern const MktoObjectDesc *mkto_object_at(int i);
extern char *mkto_object_names(void);
extern bool mkto_name_in_list(const char *name, const char *const *list);
extern char *mkto_join_names(const char *const *list);
extern char *mkto_shown_path(const MktoObjectDesc *obj, const char *path_template);
extern const MktoSourceUse *mkto_object_source(const MktoObjectDesc *obj,
											   const MktoReadSource *source);

/* custom_objects.c: a custom object type's descriptor, from the template */
extern const MktoObjectDesc mkto_custom_object_template;
extern const MktoObjectDesc *mkto_custom_object(const char *api_name,
												const char *dedupe_csv);
extern bool mkto_valid_custom_name(const char *name);
extern char **mkto_split_dedupe_fields(const char *csv);
extern bool mkto_custom_object_key_fits(const char *api_name, const char *dedupe_csv);

/* ---------------------------------------------------------------------
 * option.c: option validation and lookup.
 * ---------------------------------------------------------------------
 */
typedef struct MktoColumn
{
	AttrNumber	attnum;
	char	   *attname;
	char	   *field;			/* Marketo REST field name */
	Oid			typid;
	int32		typmod;
	bool		searchable;
	bool		read_only;
	int			max_length;		/* characters Marketo accepts, or 0 */
	bool		is_email;		/* Marketo requires ASCII addresses */
} MktoColumn;

/* The table option read_method: reads without a usable filter. */
typedef enum MktoReadMethod
{
	MKTO_READ_AUTO,				/* by the query: REST listing for a small
								 * LIMIT, bulk extract otherwise */
	MKTO_READ_REST,
	MKTO_READ_BULK
} MktoReadMethod;

typedef struct MktoTableOptions
{
	Oid			relid;
	char	   *relname;
	ForeignServer *server;
	UserMapping *user;
	char	   *rest_url;
	char	   *identity_url;
	const MktoObjectDesc *object;
	int			batch_size;
	char	   *insert_action;
	char	   *lookup_field;
	bool		status_skips_error; /* benign skips fail the statement */
	MktoReadMethod read_method;
	bool		write_batching_transaction; /* rows wait for the transaction's
											 * batches (write_buffer.c) */
	/* columns, indexed by attnum - 1; dropped columns have field == NULL */
	int			ncolumns;
	MktoColumn *columns;
} MktoTableOptions;

extern MktoTableOptions *mkto_get_table_options(Oid relid, Oid userid);
extern const MktoObjectDesc *mkto_table_object(Oid relid);
extern MktoClient *mkto_connect(MktoTableOptions *opts);
extern MktoClient *mkto_connect_server(ForeignServer *server, Oid userid);
extern MktoClient *mkto_connect_server_by_name(text *server_name);
extern MktoColumn *mkto_column_by_field(MktoTableOptions *opts,
										const char *field);

/* ---------------------------------------------------------------------
 * deparse.c: which quals Marketo can filter on, and request building.
 * ---------------------------------------------------------------------
 */
typedef struct MktoFilterQual
{
	MktoColumn *column;
	Expr	   *value_expr;		/* the side that is not our column */
	bool		is_array;		/* = ANY(array) / IN (...) */
	int			known_values;	/* values known at plan time, or -1 */
} MktoFilterQual;

extern bool mkto_filter_qual(PlannerInfo *root, RelOptInfo *baserel,
							 MktoTableOptions *opts, RestrictInfo *rinfo,
							 MktoFilterQual *out);
typedef struct MktoRangeQual
{
	MktoColumn *column;
	Expr	   *value_expr;
	bool		is_lower;		/* column >= value (or >); else <= (or <) */
} MktoRangeQual;

/* Tuples of the compound dedupe key: each a List of Expr, in key order. */
extern List *mkto_compound_tuples(PlannerInfo *root, RelOptInfo *baserel,
								  MktoTableOptions *opts, List *clauses);
extern bool mkto_range_qual(PlannerInfo *root, RelOptInfo *baserel,
							MktoTableOptions *opts, const char *range_field,
							RestrictInfo *rinfo, MktoRangeQual *out);
extern char *mkto_fields_param(List *fields);
extern char *mkto_searchable_columns(MktoTableOptions *opts);

/* ---------------------------------------------------------------------
 * convert.c: JSON <-> Datum, through PostgreSQL's own type I/O.
 * ---------------------------------------------------------------------
 */
typedef struct MktoConverter
{
	MktoColumn *column;
	FmgrInfo	input;
	Oid			typioparam;
	FmgrInfo	output;
	const char *relname;
} MktoConverter;

extern void mkto_converter_init(MktoConverter *conv, MktoColumn *column,
								const char *relname);
extern MktoConverter *mkto_converters_for(MktoTableOptions *opts, List *attnums,
										  AttrNumber **attnums_out);
extern Datum mkto_json_to_datum(MktoConverter *conv, json_object *value,
								bool *isnull);
extern json_object *mkto_datum_to_json(MktoConverter *conv, Datum value,
									   bool isnull);
extern char *mkto_datum_to_text(Oid typid, Datum value);

/* ---------------------------------------------------------------------
 * import.c / modify.c / scan entry points used by the handler.
 * ---------------------------------------------------------------------
 */
extern List *marketoImportForeignSchema(ImportForeignSchemaStmt *stmt,
										Oid serverOid);

extern void marketoAddForeignUpdateTargets(PlannerInfo *root,
										   Index rtindex,
										   RangeTblEntry *target_rte,
										   Relation target_relation);
extern List *marketoPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
									  Index resultRelation, int subplan_index);
extern void marketoBeginForeignModify(ModifyTableState *mtstate,
									  ResultRelInfo *rinfo, List *fdw_private,
									  int subplan_index, int eflags);
extern TupleTableSlot *marketoExecForeignInsert(EState *estate,
												ResultRelInfo *rinfo,
												TupleTableSlot *slot,
												TupleTableSlot *planSlot);
extern TupleTableSlot **marketoExecForeignBatchInsert(EState *estate,
													  ResultRelInfo *rinfo,
													  TupleTableSlot **slots,
													  TupleTableSlot **planSlots,
													  int *numSlots);
extern int	marketoGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *marketoExecForeignUpdate(EState *estate,
												ResultRelInfo *rinfo,
												TupleTableSlot *slot,
												TupleTableSlot *planSlot);
extern TupleTableSlot *marketoExecForeignDelete(EState *estate,
												ResultRelInfo *rinfo,
												TupleTableSlot *slot,
												TupleTableSlot *planSlot);
extern void marketoEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void marketoBeginForeignInsert(ModifyTableState *mtstate,
									  ResultRelInfo *rinfo);
extern void marketoEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern void marketoExplainForeignModify(ModifyTableState *mtstate,
										ResultRelInfo *rinfo,
										List *fdw_private, int subplan_index,
										ExplainState *es);
extern int	marketoIsForeignRelUpdatable(Relation rel);

/* modify.c, for the direct UPDATE and DELETE */
typedef struct MktoModifyState MktoModifyState;
extern MktoTableOptions *mkto_modify_options(PlannerInfo *root, Index resultRelation);
extern List *mkto_modify_targets(PlannerInfo *root, Index resultRelation,
								 CmdType operation, MktoTableOptions *opts);
extern MktoModifyState *mkto_direct_begin(EState *estate, ResultRelInfo *rinfo,
										  CmdType operation, List *targets);
extern Oid	mkto_direct_id_type(MktoModifyState *st);
extern void mkto_direct_add(MktoModifyState *st, TupleTableSlot *values, Datum id);
extern int64 mkto_direct_send(MktoModifyState *st, int64 *unmatched);
extern void mkto_direct_end(MktoModifyState *st, ResultRelInfo *rinfo);

/*
 * write_buffer.c: before a read of (or an unbuffered write to) a server's
 * instance, sends the rows the transaction holds for it (InvalidOid: all).
 */
extern void mkto_flush_writes(Oid serverid);

/* direct_modify.c: UPDATE and DELETE by id, without reading first */
extern void mkto_direct_modify_init(void);
extern bool marketoPlanDirectModify(PlannerInfo *root, ModifyTable *plan,
									Index resultRelation, int subplan_index);
extern void marketoBeginDirectModify(ForeignScanState *node, int eflags);
extern TupleTableSlot *marketoIterateDirectModify(ForeignScanState *node);
extern void marketoEndDirectModify(ForeignScanState *node);
extern void marketoExplainDirectModify(ForeignScanState *node, ExplainState *es);

#define MKTO_ROW_ID_NAME "marketo_id"
#define MKTO_ROW_KEY_NAME "marketo_key"	/* the injected key, for keyed writes */

#endif							/* MARKETO_FDW_H */

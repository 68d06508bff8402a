/*-------------------------------------------------------------------------
 *
 * objects.c
 *		  The table of Marketo objects marketo_fdw exposes.
 *
 * Scan, modify and IMPORT FOREIGN SCHEMA read every object-specific fact
 * from here, so a new object is a new entry (plus tests), not new code.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mkto_json.h"

#include "marketo_fdw.h"
#include "read_source.h"

static const char *const lead_insert_actions[] = {
	"createOnly", "createOrUpdate", "createDuplicate", NULL
};

/*
 * Standard lead fields searchable on every instance (describe2 lists the
 * instance's full set; IMPORT records it per column).
 */
static const char *const lead_searchable[] = {
	"id", "email", "cookies", "sfdcLeadId", "sfdcContactId",
	"sfdcAccountId", "sfdcLeadOwnerId", NULL
};

static const char *const lead_read_only[] = {
	"id", "createdAt", "updatedAt", NULL
};

static const char *const standard_insert_actions[] = {
	"createOnly", "createOrUpdate", NULL
};

static const char *const opportunity_searchable[] = {
	"marketoGUID", "externalOpportunityId", NULL
};

static const char *const named_account_searchable[] = {
	"marketoGUID", "name", NULL
};

static const char *const company_searchable[] = {
	"id", "externalCompanyId", "company", NULL
};

static const char *const opportunity_dedupe[] = {"externalOpportunityId", NULL};
static const char *const named_account_dedupe[] = {"name", NULL};
static const char *const company_dedupe[] = {"externalCompanyId", NULL};

/* Sales persons (notes, "Other objects"): the standard pattern, integer ids. */
static const char *const salesperson_searchable[] = {
	"id", "externalSalesPersonId", "email", NULL
};
static const char *const salesperson_dedupe[] = {"externalSalesPersonId", NULL};

/* Roles link leads to opportunities; their key is compound. */
static const char *const opportunity_role_dedupe[] = {
	"externalOpportunityId", "leadId", "role", NULL
};

static const char *const opportunity_role_searchable[] = {
	"marketoGUID", "externalOpportunityId", "leadId", NULL
};

static const char *const guid_read_only[] = {
	"marketoGUID", "createdAt", "updatedAt", NULL
};

/*
 * Opportunities, named accounts and companies follow Marketo's standard
 * lead-database pattern (seeds 002 and 003, and the notes on companies):
 * describe with idField/dedupeFields, sync with dedupeBy, delete with
 * deleteBy.  Only the paths, keys and timeouts differ.  They are read by a
 * filter; roles first by their compound key.
 */
#define STANDARD_READS_false(base) \
	{{&mkto_source_filter, base ".json", .takes_fields = true}}
#define STANDARD_READS_true(base) \
	{{&mkto_source_compound, base ".json", .takes_fields = true}, \
	 {&mkto_source_filter, base ".json", .takes_fields = true}}

#define STANDARD_OBJECT(table, base, idf, dedupe, searchable, readonly, sync_ms, delete_ms, compound) \
	{ \
		.name = table, \
		.describe_style = MKTO_DESCRIBE_STANDARD, \
		.describe_path = base "/describe.json", \
		.reads = STANDARD_READS_##compound(base), \
		.sync_path = base ".json", \
		.delete_path = base "/delete.json", \
		.id_field = idf, \
		.update_key_param = "dedupeBy", \
		.update_key_value = "idField", \
		.delete_key_param = "deleteBy", \
		.delete_key_value = "idField", \
		.dedupe_fields = dedupe, \
		.update_action = "updateOnly", \
		.insert_actions = standard_insert_actions, \
		.searchable_fields = searchable, \
		.read_only_fields = readonly, \
		.max_batch = MKTO_MAX_BATCH, \
		.capabilities = MKTO_CAP_SELECT | MKTO_CAP_INSERT | \
		MKTO_CAP_UPDATE | MKTO_CAP_DELETE, \
		.query_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.sync_timeout_ms = sync_ms, \
		.delete_timeout_ms = delete_ms, \
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
	}

/*
 * Field schemas (seeds 000 to 003): browse with paging, get one by name,
 * create custom fields in batches, update one field's attributes per call.
 */
static const MktoStaticColumn field_schema_columns[] = {
	{"name", NULL, "string", false, true},
	{"displayName", NULL, "string", false, false},
	{"description", NULL, "string", false, false},
	{"dataType", NULL, "string", false, false},
	{"length", NULL, "integer", false, false},
	{"isHidden", NULL, "boolean", false, false},
	{"isHtmlEncodingInEmail", NULL, "boolean", false, false},
	{"isSensitive", NULL, "boolean", false, false},
	{"isCustom", NULL, "boolean", true, false},
	{"isApiCreated", NULL, "boolean", true, false},
	{NULL}
};

static const MktoStaticColumn lead_list_columns[] = {
	{"leadId", "lead_id", "integer", true, true},
	{"listId", "list_id", "integer", true, false},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{NULL}
};

static const MktoStaticColumn lead_program_columns[] = {
	{"leadId", "lead_id", "integer", true, true},
	{"id", "program_id", "integer", true, false},
	{"progressionStatus", NULL, "string", true, false},
	{"progressionStatusType", NULL, "string", true, false},
	{"isExhausted", NULL, "boolean", true, false},
	{"acquiredBy", NULL, "boolean", true, false},
	{"reachedSuccess", NULL, "boolean", true, false},
	{"membershipDate", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{NULL}
};

static const MktoStaticColumn lead_smart_campaign_columns[] = {
	{"leadId", "lead_id", "integer", true, true},
	{"smartCampaignId", NULL, "integer", true, false},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{NULL}
};

static const char *const lead_id_searchable[] = {"leadId", NULL};

/*
 * A lead's memberships (seed 000, "Membership"): read-only, one lead per
 * call, paged; the lead id is in the path and not in the records.
 */
#define LEAD_MEMBERSHIP_OBJECT(table, path, columns) \
	{ \
		.name = table, \
		.reads = {{&mkto_source_by_key, path, .paged = true}}, \
		.injected_key_field = "leadId", \
		.id_field = "leadId", \
		.static_columns = columns, \
		.searchable_fields = lead_id_searchable, \
		.max_batch = MKTO_MAX_BATCH, \
		.capabilities = MKTO_CAP_SELECT, \
		.query_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.sync_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
	}

static const MktoStaticColumn program_cost_columns[] = {
	{"programId", "program_id", "integer", false, true},
	{"startDate", NULL, "date", false, false},
	{"cost", NULL, "integer", false, false},
	{"note", NULL, "string", false, false},
	{NULL}
};

static const MktoStaticColumn program_tag_columns[] = {
	{"programId", "program_id", "integer", false, true},
	{"tagType", NULL, "string", false, false},
	{"tagValue", NULL, "string", false, false},
	{NULL}
};

static const char *const program_id_searchable[] = {"programId", NULL};
static const char *const program_cost_required[] = {"programId", "startDate", "cost", NULL};
static const char *const program_tag_required[] = {"programId", "tagType", "tagValue", NULL};

/*
 * A program's costs and tags through the asset API (notes, "Programs"):
 * the REST replacement for SOAP syncMObjects' Program cost and tag updates.
 * Reads take them from the program; INSERT appends them.
 */
#define PROGRAM_LIST_OBJECT(table, member, columns, required) \
	{ \
		.name = table, \
		.reads = {{&mkto_source_by_key, "/asset/v1/program/%s.json", \
				   .records_member = member}}, \
		.injected_key_field = "programId", \
		.insert_path = "/asset/v1/program/%s.json", \
		.insert_form_member = member, \
		.id_field = "programId", \
		.dedupe_fields = required, \
		.static_columns = columns, \
		.searchable_fields = program_id_searchable, \
		.max_batch = MKTO_MAX_BATCH, \
		.capabilities = MKTO_CAP_SELECT | MKTO_CAP_INSERT, \
		.query_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.sync_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
	}

/*
 * Static list members (notes, "Static lists"): read one list per call,
 * paged; INSERT adds and DELETE removes leads, one call per list.
 */
static const MktoStaticColumn list_member_columns[] = {
	{"listId", "list_id", "integer", false, true},
	{"id", NULL, "integer", false, false},
	{"email", NULL, "email", true, false},
	{"firstName", NULL, "string", true, false},
	{"lastName", NULL, "string", true, false},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{NULL}
};

static const char *const list_id_searchable[] = {"listId", NULL};
static const char *const list_member_required[] = {"listId", "id", NULL};

/*
 * Program members (seed 001): records inside a program, keyed by lead.
 * The status is written through its own call (members/status.json), the
 * other updateable fields through members.json.
 */
static const char *const program_member_searchable[] = {
	"programId", "leadId", "statusName", "reachedSuccess", NULL
};
static const char *const program_member_required[] = {
	"programId", "leadId", "statusName", NULL
};
static const char *const program_member_read_only[] = {
	"acquiredBy", "attendanceLikelihood", "createdAt", "isExhausted",
	"membershipDate", "nurtureCadence", "program", "reachedSuccess",
	"reachedSuccessDate", "registrationLikelihood", "statusReason",
	"trackName", "updatedAt", "waitlistPriority", NULL
};

static const char *const field_schema_required[] = {"name", "displayName", "dataType", NULL};
static const char *const field_schema_searchable[] = {"name", NULL};
static const char *const field_schema_read_only[] = {"isCustom", "isApiCreated", NULL};
static const char *const field_schema_updatable[] = {
	"displayName", "description", "isHidden", "isHtmlEncodingInEmail", "isSensitive", NULL
};

#define FIELD_SCHEMA_OBJECT(table, base, caps) \
	{ \
		.name = table, \
		.reads = {{&mkto_source_by_key, base "/%s.json"}, \
				  {&mkto_source_browse, base ".json"}}, \
		.sync_path = base ".json", \
		.update_path = base "/%s.json", \
		.id_field = "name", \
		.dedupe_fields = field_schema_required, \
		.update_fields = field_schema_updatable, \
		.static_columns = field_schema_columns, \
		.searchable_fields = field_schema_searchable, \
		.read_only_fields = field_schema_read_only, \
		.max_batch = MKTO_MAX_BATCH, \
		.capabilities = caps, \
		.query_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.sync_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
	}

/*
 * The catalog objects (notes, "Catalog objects"): read-only listings.
 * Programs come from the asset API: by id values, by name through
 * byName.json, else every program or an updatedAt range, all paged by
 * offset.  Static lists take their filters as query parameters and page by
 * token.
 */
static const MktoStaticColumn program_columns[] = {
	{"id", NULL, "integer", true, true},
	{"name", NULL, "string", true, true},
	{"description", NULL, "string", true, false},
	{"type", NULL, "string", true, false},
	{"channel", NULL, "string", true, false},
	{"status", NULL, "string", true, false},
	{"workspace", NULL, "string", true, false},
	{"folder", NULL, "json", true, false},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{"url", NULL, "url", true, false},
	/* the members no other column maps (headStart, tags, costs, ...) */
	{MKTO_UNMAPPED_FIELD, "extra", "json", true, false},
	{NULL}
};

static const char *const program_searchable[] = {"id", "name", NULL};

static const MktoStaticColumn static_list_columns[] = {
	{"id", NULL, "integer", true, true},
	{"name", NULL, "string", true, true},
	{"description", NULL, "string", true, false},
	{"programName", NULL, "string", true, true},
	{"workspaceName", NULL, "string", true, true},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{NULL}
};

static const char *const static_list_searchable[] = {
	"id", "name", "programName", "workspaceName", NULL
};

/* Smart lists (asset API) and smart campaigns (campaigns.json) */
static const MktoStaticColumn smart_list_columns[] = {
	{"id", NULL, "integer", true, true},
	{"name", NULL, "string", true, true},
	{"description", NULL, "string", true, false},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{"url", NULL, "url", true, false},
	{"folder", NULL, "json", true, false},
	{"workspace", NULL, "string", true, false},
	{NULL}
};

static const char *const smart_list_searchable[] = {"id", "name", NULL};

static const MktoStaticColumn smart_campaign_columns[] = {
	{"id", NULL, "integer", true, true},
	{"name", NULL, "string", true, true},
	{"description", NULL, "string", true, false},
	{"type", NULL, "string", true, false},
	{"programName", NULL, "string", true, true},
	{"programId", NULL, "integer", true, false},
	{"workspaceName", NULL, "string", true, true},
	{"createdAt", NULL, "datetime", true, false},
	{"updatedAt", NULL, "datetime", true, false},
	{"active", NULL, "boolean", true, false},
	{NULL}
};

static const char *const smart_campaign_searchable[] = {
	"id", "name", "programName", "workspaceName", NULL
};

/* A read-only object with static columns, read by the sources given. */
#define READ_ONLY_OBJECT(table, idf, columns, searchable, ...) \
	{ \
		.name = table, \
		.reads = {__VA_ARGS__}, \
		.id_field = idf, \
		.static_columns = columns, \
		.searchable_fields = searchable, \
		.max_batch = MKTO_MAX_BATCH, \
		.capabilities = MKTO_CAP_SELECT, \
		.query_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.sync_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS, \
	}

#define CATALOG_OBJECT(table, columns, searchable, ...) \
	READ_ONLY_OBJECT(table, "id", columns, searchable, __VA_ARGS__)

/*
 * Activities (notes, "Activities over REST"): read-only, from a paging
 * token for the lower bound of the date, page by page; the types in one
 * call.  No describe call: the columns are Marketo's documented records.
 */
static const MktoStaticColumn activity_type_columns[] = {
	{"id", NULL, "integer", true, false},
	{"name", NULL, "string", true, false},
	{"description", NULL, "string", true, false},
	{"primaryAttribute", NULL, "json", true, false},
	{"attributes", NULL, "json", true, false},
	{NULL}
};

static const MktoStaticColumn activity_columns[] = {
	{"marketoGUID", "marketo_guid", "string", true, false},
	{"leadId", "lead_id", "integer", true, true},
	{"activityDate", NULL, "datetime", true, false},
	{"activityTypeId", NULL, "integer", true, true},
	{"campaignId", NULL, "integer", true, false},
	{"primaryAttributeValueId", NULL, "integer", true, false},
	{"primaryAttributeValue", NULL, "string", true, false},
	{"attributes", NULL, "activity_attributes", true, false},
	{NULL}
};

static const MktoStaticColumn deleted_lead_columns[] = {
	{"id", NULL, "integer", true, false},
	{"leadId", "lead_id", "integer", true, false},
	{"activityDate", NULL, "datetime", true, false},
	{"activityTypeId", NULL, "integer", true, false},
	{"primaryAttributeValue", NULL, "string", true, false},
	{"attributes", NULL, "activity_attributes", true, false},
	{NULL}
};

static const MktoStaticColumn lead_change_columns[] = {
	{"id", NULL, "integer", true, false},
	{"marketoGUID", "marketo_guid", "string", true, false},
	{"leadId", "lead_id", "integer", true, true},
	{"activityDate", NULL, "datetime", true, false},
	{"activityTypeId", NULL, "integer", true, false},
	{"campaignId", NULL, "integer", true, false},
	{"fields", NULL, "lead_field_changes", true, false},
	{"attributes", NULL, "activity_attributes", true, false},
	{NULL}
};

static const char *const activity_searchable[] = {"leadId", "activityTypeId", NULL};
static const char *const lead_change_searchable[] = {"leadId", NULL};

/* As CATALOG_OBJECT, with the id the scan drops repeated records by. */
#define ACTIVITY_OBJECT(table, idf, columns, searchable, ...) \
	READ_ONLY_OBJECT(table, idf, columns, searchable, __VA_ARGS__)

#define PROGRAM_MEMBER_LIMIT_HINT \
	"If the program has more than 100,000 members, Marketo filters them only by lead id: " \
	"add a condition on lead_id, which marketo_fdw then reads by."

static const MktoObjectDesc mkto_objects[] = {
	{
		.name = "leads",
		.describe_style = MKTO_DESCRIBE_LEAD,
		.describe_path = "/v1/leads/describe.json",
		.describe2_path = "/v1/leads/describe2.json",
		/*
		 * Without a filter: for LIMIT n, ids from the New Lead activities;
		 * else bulk extract, in createdAt or updatedAt windows.
		 */
		.reads = {{&mkto_source_filter, "/v1/leads.json", .takes_fields = true},
				  {&mkto_source_new_leads, "/v1/leads.json", .takes_fields = true,
				   .field = "id"},
				  {&mkto_source_bulk, "/bulk/v1/leads/export", .takes_fields = true}},
		.sync_path = "/v1/leads.json",
		.delete_path = "/v1/leads/delete.json",
		.id_field = "id",
		.insert_key_param = "lookupField",
		.update_key_param = "lookupField",
		.update_key_value = "id",
		.default_lookup_field = "email",
		.update_action = "updateOnly",
		.insert_actions = lead_insert_actions,
		.searchable_fields = lead_searchable,
		.read_only_fields = lead_read_only,
		.max_batch = MKTO_MAX_BATCH,
		.capabilities = MKTO_CAP_SELECT | MKTO_CAP_INSERT |
		MKTO_CAP_UPDATE | MKTO_CAP_DELETE,
		.query_timeout_ms = MKTO_TIMEOUT_QUERY_MS,
		.sync_timeout_ms = MKTO_TIMEOUT_SYNC_MS,
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
	},
	STANDARD_OBJECT("opportunities", "/v1/opportunities", "marketoGUID",
					opportunity_dedupe, opportunity_searchable,
					guid_read_only, 60000, 60000, false),
	/* ASSUMPTION: roles share the opportunities' documented timeouts. */
	STANDARD_OBJECT("opportunity_roles", "/v1/opportunities/roles", "marketoGUID",
					opportunity_role_dedupe, opportunity_role_searchable,
					guid_read_only, 60000, 60000, true),
	STANDARD_OBJECT("named_accounts", "/v1/namedaccounts", "marketoGUID",
					named_account_dedupe, named_account_searchable, guid_read_only,
					120000, 60000, false),
	STANDARD_OBJECT("companies", "/v1/companies", "id",
					company_dedupe, company_searchable, lead_read_only,
					MKTO_TIMEOUT_DEFAULT_MS, MKTO_TIMEOUT_DEFAULT_MS, false),
	/* Sales persons: "30 s unless noted; sync and delete 60 s" (Adobe's docs) */
	STANDARD_OBJECT("salespersons", "/v1/salespersons", "id",
					salesperson_dedupe, salesperson_searchable, lead_read_only,
					60000, 60000, false),
	/* Only lead and program member fields can be created and updated. */
	FIELD_SCHEMA_OBJECT("lead_fields", "/v1/leads/schema/fields",
						MKTO_CAP_SELECT | MKTO_CAP_INSERT | MKTO_CAP_UPDATE),
	FIELD_SCHEMA_OBJECT("program_member_fields", "/v1/programs/members/schema/fields",
						MKTO_CAP_SELECT | MKTO_CAP_INSERT | MKTO_CAP_UPDATE),
	FIELD_SCHEMA_OBJECT("opportunity_fields", "/v1/opportunities/schema/fields",
						MKTO_CAP_SELECT),
	FIELD_SCHEMA_OBJECT("named_account_fields", "/v1/namedaccounts/schema/fields",
						MKTO_CAP_SELECT),
	LEAD_MEMBERSHIP_OBJECT("lead_lists", "/v1/leads/%s/listMembership.json",
						   lead_list_columns),
	LEAD_MEMBERSHIP_OBJECT("lead_programs", "/v1/leads/%s/programMembership.json",
						   lead_program_columns),
	LEAD_MEMBERSHIP_OBJECT("lead_smart_campaigns", "/v1/leads/%s/smartCampaignMembership.json",
						   lead_smart_campaign_columns),
	{
		.name = "list_members",
		.reads = {{&mkto_source_by_key, "/v1/lists/%s/leads.json",
				   .takes_fields = true, .paged = true}},
		.injected_key_field = "listId",
		.insert_path = "/v1/lists/%s/leads.json",
		.delete_path = "/v1/lists/%s/leads.json",
		.keyed_writes = true,
		.delete_by_http_delete = true,
		.id_field = "id",
		.dedupe_fields = list_member_required,
		.static_columns = list_member_columns,
		.searchable_fields = list_id_searchable,
		.max_batch = MKTO_MAX_BATCH,
		.capabilities = MKTO_CAP_SELECT | MKTO_CAP_INSERT | MKTO_CAP_DELETE,
		/* "Get Leads by List Id: 60 s" (seed 000) */
		.query_timeout_ms = MKTO_TIMEOUT_QUERY_MS,
		.sync_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
	},
	{
		.name = "program_members",
		.describe_style = MKTO_DESCRIBE_STANDARD,
		.describe_path = "/v1/programs/members/describe.json",
		/*
		 * A filter within the program; else an updatedAt range in windows;
		 * else every member, as reachedSuccess true or false: a call per
		 * 300 members; above Marketo's filter limit (1003) that falls back
		 * to a bulk program member extract.  Without a program, every
		 * program's members by bulk extract.
		 */
		.parent_key = "programId",
		.reads = {
			{&mkto_source_filter, "/v1/programs/%s/members.json",
			 .takes_fields = true, .limit_hint = PROGRAM_MEMBER_LIMIT_HINT},
			{&mkto_source_range, "/v1/programs/%s/members.json",
			 .takes_fields = true, .limit_hint = PROGRAM_MEMBER_LIMIT_HINT,
			 .field = "updatedAt", .max_days = 7},
			{&mkto_source_every, "/v1/programs/%s/members.json",
			 .takes_fields = true, .limit_hint = PROGRAM_MEMBER_LIMIT_HINT,
			 .field = "reachedSuccess"},
			{&mkto_source_listing, "/v1/programs/%s/members.json",
			 .takes_fields = true, .field = "leadId",
			 .listing_path = "/v1/leads/programs/%s.json",
			 .listing_id_field = "id"},
			{&mkto_source_bulk, "/bulk/v1/program/members/export",
			 .takes_fields = true, .field = "programId"},
		},
		.sync_path = "/v1/programs/%s/members.json",
		.delete_path = "/v1/programs/%s/members/delete.json",
		.status_path = "/v1/programs/%s/members/status.json",
		.status_field = "statusName",
		.benign_skip_code = "1037",
		.injected_key_field = "programId",
		.keyed_writes = true,
		.id_field = "leadId",
		.default_lookup_field = "leadId",	/* names rows in errors */
		.dedupe_fields = program_member_required,
		.searchable_fields = program_member_searchable,
		.read_only_fields = program_member_read_only,
		.max_batch = MKTO_MAX_BATCH,
		.capabilities = MKTO_CAP_SELECT | MKTO_CAP_INSERT |
		MKTO_CAP_UPDATE | MKTO_CAP_DELETE,
		.query_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
		.sync_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
		.delete_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
		.describe_timeout_ms = MKTO_TIMEOUT_DEFAULT_MS,
	},
	PROGRAM_LIST_OBJECT("program_costs", "costs", program_cost_columns,
						program_cost_required),
	PROGRAM_LIST_OBJECT("program_tags", "tags", program_tag_columns,
						program_tag_required),
	CATALOG_OBJECT("programs", program_columns, program_searchable,
				   {&mkto_source_asset_filter, "/asset/v1/programs.json", .field = "id"},
				   {&mkto_source_by_param, "/asset/v1/program/byName.json",
					.field = "name", .values_per_call = 1},
				   {&mkto_source_asset_listing, "/asset/v1/programs.json"}),
	/*
	 * Smart lists and smart campaigns (notes, "Catalog objects").  Smart
	 * lists come from the asset API: by id in the path, by name through
	 * byName.json, else every list or an updatedAt range, paged by offset.
	 * Smart campaigns take their filters as query parameters of
	 * campaigns.json and page by token, as static lists do.
	 */
	CATALOG_OBJECT("smart_lists", smart_list_columns, smart_list_searchable,
				   {&mkto_source_by_param, "/asset/v1/smartList/%s.json", .field = "id"},
				   {&mkto_source_by_param, "/asset/v1/smartList/byName.json",
					.field = "name", .values_per_call = 1},
				   {&mkto_source_asset_listing, "/asset/v1/smartLists.json"}),
	CATALOG_OBJECT("smart_campaigns", smart_campaign_columns, smart_campaign_searchable,
				   {&mkto_source_by_param, "/v1/campaigns.json", .paged = true},
				   {&mkto_source_browse, "/v1/campaigns.json"}),
	CATALOG_OBJECT("static_lists", static_list_columns, static_list_searchable,
				   {&mkto_source_by_param, "/v1/lists.json", .paged = true},
				   {&mkto_source_browse, "/v1/lists.json"}),
	/* Activities: the types, the activities, deleted leads, lead changes. */
	CATALOG_OBJECT("activity_types", activity_type_columns, NULL,
				   {&mkto_source_browse, "/v1/activities/types.json"}),
	ACTIVITY_OBJECT("activities", "marketoGUID", activity_columns, activity_searchable,
					/* long ranges without a lead filter: bulk extract */
					{&mkto_source_bulk, "/bulk/v1/activities/export", .takes_fields = true,
					 .field = "activityDate"},
					{&mkto_source_activities, "/v1/activities.json", .field = "activityDate"}),
	ACTIVITY_OBJECT("deleted_leads", "id", deleted_lead_columns, NULL,
					{&mkto_source_deleted_leads, "/v1/activities/deletedleads.json",
					 .field = "activityDate"}),
	ACTIVITY_OBJECT("lead_changes", "id", lead_change_columns, lead_change_searchable,
					{&mkto_source_lead_changes, "/v1/activities/leadchanges.json",
					 .field = "activityDate"}),
};

#define MKTO_OBJECT_COUNT lengthof(mkto_objects)

/*
 * Custom objects (notes, "Custom objects"): the standard pattern again, one
 * type per apiName, which "%s" in the paths stands for.  Not in the table:
 * mkto_custom_object (custom_objects.c) makes each type's descriptor from
 * this, with its dedupe key; a single-field key drops the compound read.
 * ASSUMPTION: Adobe documents no timeouts for them; the default applies.
 */
/*
 * Their reads: the standard ones, then, for a read without a usable
 * filter (REST cannot list them), the bulk custom object extract, whose
 * only date filter is updatedAt.
 */
#define STANDARD_READS_custom_bulk(base) \
	{{&mkto_source_compound, base ".json", .takes_fields = true}, \
	 {&mkto_source_filter, base ".json", .takes_fields = true}, \
	 {&mkto_source_bulk, "/bulk" base "/export", .takes_fields = true, .field = "updatedAt"}}
const MktoObjectDesc mkto_custom_object_template =
	STANDARD_OBJECT("custom object", "/v1/customobjects/%s", "marketoGUID",
					NULL, NULL, guid_read_only,
					MKTO_TIMEOUT_DEFAULT_MS, MKTO_TIMEOUT_DEFAULT_MS, custom_bulk);

const MktoObjectDesc *
mkto_find_object(const char *name)
{
	for (int i = 0; i < MKTO_OBJECT_COUNT; i++)
	{
		if (strcmp(mkto_objects[i].name, name) == 0)
			return &mkto_objects[i];
	}
	return NULL;
}

/* NULL past the end, for iteration. */
const MktoObjectDesc *
mkto_object_at(int i)
{
	if (i < 0 || i >= MKTO_OBJECT_COUNT)
		return NULL;
	return &mkto_objects[i];
}

/* "leads, ..." for hints. */
char *
mkto_object_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < MKTO_OBJECT_COUNT; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", mkto_objects[i].name);
	return buf.data;
}

bool
mkto_name_in_list(const char *name, const char *const *list)
{
	for (; list && *list; list++)
	{
		if (strcmp(*list, name) == 0)
			return true;
	}
	return false;
}

char *
mkto_join_names(const char *const *list)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (; list && *list; list++)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", *list);
	return buf.data;
}

/* A path template with its key shown as {name}, for EXPLAIN. */
char *
mkto_shown_path(const MktoObjectDesc *obj, const char *template)
{
	const char *slot = strstr(template, "%s");

	if (slot == NULL)
		return pstrdup(template);
	return psprintf("%.*s{%s}%s", (int) (slot - template), template,
					obj->injected_key_field ? obj->injected_key_field : obj->id_field,
					slot + 2);
}

/* The object's use of a source, or NULL. */
const MktoSourceUse *
mkto_object_source(const MktoObjectDesc *obj, const MktoReadSource *source)
{
	for (int i = 0; i < MKTO_MAX_SOURCES && obj->reads[i].source; i++)
	{
		if (obj->reads[i].source == source)
			return &obj->reads[i];
	}
	return NULL;
}

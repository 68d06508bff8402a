# marketo_fdw: PGXS build.
MODULE_big = marketo_fdw
OBJS = \
	src/marketo_fdw.o \
	src/plan.o \
	src/scan.o \
	src/recheck.o \
	src/value_hash.o \
	src/join_plan.o \
	src/join_exec.o \
	src/direct_modify.o \
	src/source_filter.o \
	src/source_listing.o \
	src/source_browse.o \
	src/source_compound.o \
	src/source_new_leads.o \
	src/source_bulk.o \
	src/source_offset.o \
	src/source_activities.o \
	src/mkto_json.o \
	src/option.o \
	src/objects.o \
	src/custom_objects.o \
	src/deparse.o \
	src/convert.o \
	src/import.o \
	src/actions.o \
	src/campaigns.o \
	src/bulk_admin.o \
	src/bulk_jobs.o \
	src/bulk_csv.o \
	src/modify.o \
	src/write_buffer.o \
	src/mkto_http.o \
	src/mkto_stream.o \
	src/mkto_multi.o \
	src/mkto_client.o \
	src/mkto_bulk.o \
	src/mkto_limiter.o \
	src/call_stats.o

EXTENSION = marketo_fdw
DATA = marketo_fdw--1.0.sql marketo_fdw--1.1.sql marketo_fdw--1.0--1.1.sql
PGFILEDESC = "marketo_fdw - foreign data wrapper for Adobe Marketo Engage"

REGRESS = setup options import scan modify objects roles actions fields memberships programs program_members lists limits concurrency errors values faults secrets copy lead_listing transport_defects read_defects write_defects import_defects limiter_defects bulk_admin bulk_extract bulk_faults hashed_recheck parallel_calls batched_join parallel_parents catalog direct_modify campaigns custom_objects activities write_batching activities_bulk custom_objects_bulk
REGRESS_OPTS = --inputdir=.

SHLIB_LINK = -lcurl -ljson-c
PG_CPPFLAGS = -I$(srcdir)/src

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

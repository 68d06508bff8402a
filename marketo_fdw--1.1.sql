/* marketo_fdw--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION marketo_fdw" to load this file. \quit

CREATE FUNCTION marketo_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION marketo_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER marketo_fdw
  HANDLER marketo_fdw_handler
  VALIDATOR marketo_fdw_validator;

-- Calls this backend has sent to Marketo since it started, for monitoring and tests.
CREATE FUNCTION marketo_fdw_backend_calls()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

-- The calls marketo_fdw has made: this backend's, and per Marketo instance
-- the client-side limiter's view (shared by all backends when marketo_fdw
-- is in shared_preload_libraries, else this backend's alone).
CREATE FUNCTION marketo_call_stats(
  OUT scope text, OUT instance text, OUT calls bigint, OUT calls_in_window integer,
  OUT in_flight integer, OUT waits bigint, OUT waited_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION marketo_api_usage_raw(server text)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C;

-- Marketo's own count of today's calls on the instance, per API user
-- (stats/usage.json).
CREATE FUNCTION marketo_api_usage(server text)
RETURNS TABLE (date date, total bigint, user_id text, calls bigint)
LANGUAGE sql
AS $$
  SELECT (d->>'date')::date, (d->>'total')::bigint, u->>'userId', (u->>'count')::bigint
  FROM jsonb_array_elements(@extschema@.marketo_api_usage_raw(server)) AS d
  LEFT JOIN LATERAL jsonb_array_elements(coalesce(d->'users', '[]')) AS u ON true
$$;

-- Lead actions that are not CRUD.  Each takes the foreign server's name and
-- uses the current user's mapping for it.

-- Merges the losers into the winner (POST leads/{id}/merge.json).
CREATE FUNCTION marketo_merge_leads(server text, winner_id integer,
                                    loser_ids integer[],
                                    merge_in_crm boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

-- Associates a Munchkin cookie's web activity with a lead.
CREATE FUNCTION marketo_associate_lead(server text, lead_id integer, cookie text)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION marketo_push_leads_raw(server text, program_name text, leads jsonb,
                                       lookup_field text, source text, reason text)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C;

-- Pushes leads (a jsonb array of lead objects) into a program; one row per
-- lead with Marketo's status, in input order.
CREATE FUNCTION marketo_push_leads(server text, program_name text, leads jsonb,
                                   lookup_field text DEFAULT NULL,
                                   source text DEFAULT NULL, reason text DEFAULT NULL)
RETURNS TABLE (seq integer, id integer, status text, reason_code text, reason_message text)
LANGUAGE sql
AS $$
  SELECT coalesce((r->>'seq')::integer, (n - 1)::integer), (r->>'id')::integer,
         coalesce(r->>'status', 'skipped'),
         r->'reasons'->0->>'code', r->'reasons'->0->>'message'
  FROM jsonb_array_elements(@extschema@.marketo_push_leads_raw(server, program_name, leads,
                                                               lookup_field, source, reason))
       WITH ORDINALITY AS t(r, n)
$$;

CREATE FUNCTION marketo_submit_form_raw(server text, form_id integer, fields jsonb,
                                        program_id integer, visitor_data jsonb, cookie text)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C;

-- Submits a form for one lead, as a visitor filling it in would.
CREATE FUNCTION marketo_submit_form(server text, form_id integer, fields jsonb,
                                    program_id integer DEFAULT NULL,
                                    visitor_data jsonb DEFAULT NULL,
                                    cookie text DEFAULT NULL)
RETURNS TABLE (id integer, status text, reason_code text, reason_message text)
LANGUAGE sql
AS $$
  SELECT (r->>'id')::integer, coalesce(r->>'status', 'skipped'),
         r->'reasons'->0->>'code', r->'reasons'->0->>'message'
  FROM jsonb_array_elements(@extschema@.marketo_submit_form_raw(server, form_id, fields,
                                                                program_id, visitor_data, cookie)) AS t(r)
$$;

-- Bulk export jobs.  Marketo shows an API user only the jobs it created, so
-- these are the user mapping's jobs of the last 7 days (Marketo's listings).
CREATE FUNCTION marketo_bulk_jobs_raw(server text)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

-- One row per lead and program member export job.
CREATE FUNCTION marketo_bulk_jobs(server text)
RETURNS TABLE (object text, export_id text, status text,
               created_at timestamptz, queued_at timestamptz,
               started_at timestamptz, finished_at timestamptz,
               format text, number_of_records bigint, file_size bigint,
               error_msg text)
LANGUAGE sql
AS $$
  SELECT j->>'object', j->>'exportId', j->>'status',
         (j->>'createdAt')::timestamptz, (j->>'queuedAt')::timestamptz,
         (j->>'startedAt')::timestamptz, (j->>'finishedAt')::timestamptz,
         j->>'format', (j->>'numberOfRecords')::bigint, (j->>'fileSize')::bigint,
         j->>'errorMsg'
  FROM jsonb_array_elements(@extschema@.marketo_bulk_jobs_raw(server)) AS j
$$;

-- Today's bulk export bytes against the daily limit (500 MB unless more was
-- bought).  Marketo meters the fileSize of finished jobs and resets at
-- midnight US Central; it has no call for the figure, so it is the sum of
-- fileSize over the jobs that completed since then.
CREATE FUNCTION marketo_bulk_quota(server text, daily_limit bigint DEFAULT 524288000,
                                   OUT used_bytes bigint, OUT limit_bytes bigint,
                                   OUT remaining_bytes bigint, OUT jobs bigint,
                                   OUT resets_at timestamptz)
LANGUAGE sql
AS $$
  WITH day AS (
    SELECT date_trunc('day', now() AT TIME ZONE 'America/Chicago') AS start
  ), today AS (
    SELECT j.file_size
    FROM @extschema@.marketo_bulk_jobs(server) AS j, day
    WHERE j.status = 'Completed'
      AND j.finished_at >= day.start AT TIME ZONE 'America/Chicago'
  )
  SELECT coalesce(sum(file_size), 0)::bigint, daily_limit,
         greatest(daily_limit - coalesce(sum(file_size), 0), 0)::bigint, count(*),
         (SELECT (start + interval '1 day') AT TIME ZONE 'America/Chicago' FROM day)
  FROM today
$$;

-- Cancels an export job (POST .../{exportId}/cancel.json); returns its new
-- status.  object is 'leads' or 'program members'.
CREATE FUNCTION marketo_bulk_cancel(server text, export_id text, object text DEFAULT 'leads')
RETURNS text
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

-- Smart campaigns.  Each takes the foreign server's name and uses the
-- current user's mapping for it.

-- Requests a trigger campaign for the leads (POST campaigns/{id}/trigger.json),
-- 100 leads a call; tokens is {"{{my.token}}": "value", ...} or Marketo's
-- [{"name": ..., "value": ...}] array.  Returns the number of leads sent.
CREATE FUNCTION marketo_trigger_campaign(server text, campaign_id integer,
                                         lead_ids integer[], tokens jsonb DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME'
LANGUAGE C;

-- Schedules a batch campaign (POST campaigns/{id}/schedule.json) at run_at,
-- or in five minutes without it; tokens as for marketo_trigger_campaign.
CREATE FUNCTION marketo_schedule_campaign(server text, campaign_id integer,
                                          run_at timestamptz DEFAULT NULL,
                                          tokens jsonb DEFAULT NULL,
                                          clone_to_program_name text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C;

--
-- Activities through Marketo's bulk activity extract: a range without a
-- lead filter longer than marketo_fdw.activities_bulk_days (or
-- read_method 'bulk') is read in createdAt windows of at most 31 days,
-- activity_type_id pushed as activityTypeIds.
--
SELECT emu_do('reset');
-- many jobs' calls in a few seconds: the call window is not what is tested here
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
CREATE SCHEMA act_b;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (activities) FROM SERVER marketo INTO act_b;
-- the same table read over REST, to compare with
CREATE SCHEMA act_r;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (activities) FROM SERVER marketo INTO act_r;
ALTER FOREIGN TABLE act_r.activities OPTIONS (ADD read_method 'rest');
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 0, "rate_limit": 10000}');
SET marketo_fdw.bulk_poll_interval = '10ms';
SET marketo_fdw.progress = off;
-- 270 activities over 90 days of 2025, three types, five leads in turn
SELECT emu_do('add-activities', '{"count": 270, "types": [6, 10, 11], "leads": [1001, 1002, 1003, 1004, 1005], "from": "2025-06-01T00:00:00Z", "to": "2025-08-30T00:00:00Z"}');
-- The error a statement raises, export ids (random UUIDs) masked.
CREATE FUNCTION act_error(statement text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  msg text; detail text; hint text;
BEGIN
  EXECUTE statement;
  RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT;
  -- the quota's reset time, checked against the next midnight US Central
  RETURN QUERY SELECT replace(regexp_replace(x, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'EXPORT-ID', 'g'),
                              to_char((date_trunc('day', now() AT TIME ZONE 'America/Chicago') + interval '1 day') AT TIME ZONE 'America/Chicago' AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '<next midnight US Central> UTC')
    FROM unnest(ARRAY['ERROR: ' || msg, 'DETAIL: ' || detail, 'HINT: ' || hint]) AS x
    WHERE x !~ ': $';
END $$;
-- The emulator's stored activities, to compare with.
CREATE TEMP VIEW emu_acts AS
SELECT j->>'marketoGUID' AS marketo_guid, (j->>'leadId')::int AS lead_id,
       (j->>'activityDate')::timestamptz AS activity_date, (j->>'activityTypeId')::int AS activity_type_id,
       (j->>'campaignId')::int AS campaign_id, (j->>'primaryAttributeValueId')::int AS primary_attribute_value_id,
       j->>'primaryAttributeValue' AS primary_attribute_value,
       (SELECT jsonb_object_agg(a->>'name', a->'value') FROM jsonb_array_elements(j->'attributes') a) AS attributes
FROM emu('activities') AS line, LATERAL (SELECT line::jsonb AS j) AS x;
-- The create calls' filters and fields.
CREATE TEMP VIEW act_jobs AS
SELECT n, body->'filter'->'createdAt'->>'startAt' AS start_at,
       body->'filter'->'createdAt'->>'endAt' AS end_at,
       body->'filter'->'activityTypeIds' AS types, body->'fields' AS fields, error_code
FROM emu_rest_calls() WHERE path = '/bulk/v1/activities/export/create.json';

-- 90 days of two types: three windows' jobs, the types pushed.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z'
  AND activity_type_id IN (10, 11);
SELECT emu_do('clear-calls');
CREATE TEMP TABLE bulk_rows AS
SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z'
  AND activity_type_id IN (10, 11);
SELECT start_at, end_at, types, fields FROM act_jobs ORDER BY n;
SELECT regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]+', 'ID') AS path, count(*) > 0 AS called
FROM emu_rest_calls() GROUP BY 1 ORDER BY 1;
-- the rows are those REST reads, and the store's
SELECT emu_do('clear-calls');
CREATE TEMP TABLE rest_rows AS
SELECT * FROM act_r.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z'
  AND activity_type_id IN (10, 11);
SELECT path, count(*) AS calls FROM emu_rest_calls() GROUP BY 1 ORDER BY 1;
SELECT count(*) AS rows, count(DISTINCT marketo_guid) AS distinct_guids FROM bulk_rows;
SELECT (SELECT count(*) FROM rest_rows) AS rest_rows,
       (SELECT count(*) FROM (TABLE bulk_rows EXCEPT TABLE rest_rows) d) AS only_bulk,
       (SELECT count(*) FROM (TABLE rest_rows EXCEPT TABLE bulk_rows) d) AS only_rest;
SELECT (SELECT count(*) FROM (TABLE bulk_rows EXCEPT
          SELECT * FROM emu_acts WHERE activity_date >= '2025-06-01T00:00:00Z'
            AND activity_date < '2025-08-30T00:00:00Z' AND activity_type_id IN (10, 11)) d) AS only_bulk,
       (SELECT count(*) FROM (SELECT * FROM emu_acts WHERE activity_date >= '2025-06-01T00:00:00Z'
            AND activity_date < '2025-08-30T00:00:00Z' AND activity_type_id IN (10, 11)
          EXCEPT TABLE bulk_rows) d) AS only_store;
SELECT marketo_guid, lead_id, activity_date AT TIME ZONE 'UTC' AS activity_date, activity_type_id,
       campaign_id, primary_attribute_value_id, primary_attribute_value, attributes
FROM bulk_rows ORDER BY activity_date, marketo_guid LIMIT 3;

-- The jobs are listed with the others, and counted in today's export quota.
SELECT object, status, count(*) AS jobs FROM marketo_bulk_jobs('marketo')
WHERE object = 'activities' GROUP BY 1, 2;
SELECT (SELECT used_bytes FROM marketo_bulk_quota('marketo')) =
       (SELECT sum((j->>'fileSize')::bigint) FROM emu('bulk-jobs') AS line,
          LATERAL (SELECT line::jsonb AS j) AS x WHERE j->>'status' = 'Completed') AS quota_counts_them;
-- and one can be cancelled
SELECT emu_do('config', '{"bulk_queue_seconds": 600}');
SELECT emu_do('add-bulk-job', '{"object": "activities", "fields": ["leadId"], "filter": {"createdAt": {"startAt": "2025-06-01T00:00:00Z", "endAt": "2025-06-02T00:00:00Z"}}}');
SELECT marketo_bulk_cancel('marketo', export_id, 'activities') AS new_status
FROM marketo_bulk_jobs('marketo') WHERE object = 'activities' AND status = 'Queued';
SELECT emu_do('config', '{"bulk_queue_seconds": 0}');

-- count(*): fields are the date (rechecked locally) and marketoGUID; no
-- types: every type.
SELECT emu_do('clear-calls');
SELECT count(*) = (SELECT count(*) FROM act_r.activities
                   WHERE activity_date BETWEEN '2025-06-01T00:00:00Z' AND '2025-07-15T00:00:00Z') AS same_as_rest
FROM act_b.activities
WHERE activity_date BETWEEN '2025-06-01T00:00:00Z' AND '2025-07-15T00:00:00Z';
SELECT start_at, end_at, types, fields FROM act_jobs ORDER BY n;

-- The choice of read.
-- a short range: not bulk
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-06-04T00:00:00Z';
CREATE TEMP VIEW read_calls AS
SELECT count(*) FILTER (WHERE path LIKE '/bulk/%') AS bulk_calls,
       count(*) FILTER (WHERE path LIKE '/rest/v1/activities%') AS rest_calls
FROM emu_rest_calls();
SELECT emu_do('clear-calls');
SELECT count(*) FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-06-04T00:00:00Z';
SELECT * FROM read_calls;
-- a lead filter: not bulk
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND lead_id = 1001;
-- LIMIT n of the table alone: not bulk
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' LIMIT 10;
-- no lower bound: not bulk (REST refuses it)
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities WHERE activity_date < '2025-06-04T00:00:00Z';
-- Delete Lead: not bulk
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-01-01T00:00:00Z' AND activity_date < '2025-06-01T00:00:00Z' AND activity_type_id = 37;
-- the threshold
SET marketo_fdw.activities_bulk_days = 100;
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z';
SET marketo_fdw.activities_bulk_days = 0;
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-06-04T00:00:00Z';
RESET marketo_fdw.activities_bulk_days;
-- read_method 'bulk': a short range and a LIMIT go by bulk extract
ALTER FOREIGN TABLE act_b.activities OPTIONS (ADD read_method 'bulk');
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-06-04T00:00:00Z' LIMIT 10;
SELECT emu_do('clear-calls');
SELECT count(*) FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-06-04T00:00:00Z';
SELECT start_at, end_at, types, fields FROM act_jobs ORDER BY n;
-- but not a lead filter
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND lead_id IN (1001, 1002);
SELECT emu_do('clear-calls');
SELECT count(*) FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z'
  AND lead_id IN (1001, 1002);
SELECT * FROM read_calls;
-- Delete Lead is refused, at planning or, from a parameter, at execution
SELECT act_error($$SELECT * FROM act_b.activities
  WHERE activity_date >= '2025-01-01T00:00:00Z' AND activity_date < '2025-06-01T00:00:00Z' AND activity_type_id = 37$$);
PREPARE by_types(int[]) AS SELECT count(*) FROM act_b.activities
  WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-06-04T00:00:00Z'
    AND activity_type_id = ANY ($1);
SET plan_cache_mode = force_generic_plan;
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF) EXECUTE by_types('{10,11}');
SELECT act_error($$EXECUTE by_types('{10,37}')$$);
SELECT count(*) AS calls FROM emu_rest_calls();
EXECUTE by_types('{11,10,11}');
EXECUTE by_types('{}');
SELECT start_at, end_at, types FROM act_jobs ORDER BY n;
RESET plan_cache_mode;
DEALLOCATE by_types;
-- read_method 'rest': 90 days do not go by bulk extract
ALTER FOREIGN TABLE act_b.activities OPTIONS (SET read_method 'rest');
EXPLAIN (COSTS OFF) SELECT * FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z';
ALTER FOREIGN TABLE act_b.activities OPTIONS (DROP read_method);

-- Faults: a Failed job fails the statement with Marketo's reason.
SELECT emu_do('fault', '{"kind": "job_fail", "message": "Export failed: internal error"}');
SELECT act_error($$SELECT count(*) FROM act_b.activities
  WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z'$$);
-- A full queue (1029 "Too many jobs in queue") waits and enqueues again.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/bulk/v1/activities/export/", "suffix": "/enqueue.json", "kind": "error", "code": "1029", "message": "Too many jobs in queue"}');
SELECT count(*) FROM act_b.activities
WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-07-15T00:00:00Z';
SELECT regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]+', 'ID') AS path, error_code
FROM emu_rest_calls() WHERE path LIKE '%/enqueue.json' ORDER BY n;
-- The daily export quota (1029 "Export daily quota exceeded") fails at once.
SELECT emu_do('config', '{"bulk_daily_bytes": 1}');
SELECT act_error($$SELECT count(*) FROM act_b.activities
  WHERE activity_date >= '2025-06-01T00:00:00Z' AND activity_date < '2025-08-30T00:00:00Z'$$);
SELECT emu_do('config', '{"bulk_daily_bytes": 524288000}');

-- Attributes CSV makes hard: quotes, commas, line breaks, non-ASCII, a
-- Unicode line separator, in the attributes' JSON string.
SELECT emu_do('add-activities', $${"count": 2, "types": [46], "leads": [1001], "from": "2025-10-01T00:00:00Z", "to": "2025-10-01T00:00:10Z", "attributes": [{"name": "Description", "value": "said \"hi\", then\nleft; café 日本語 \u2028 end"}, {"name": "Source, \"quoted\"", "value": "null"}, {"name": "Score", "value": 7}]}$$);
SELECT emu_do('clear-calls');
SELECT (SELECT count(*) FROM act_b.activities
        WHERE activity_date >= '2025-09-01T00:00:00Z' AND activity_date < '2025-10-20T00:00:00Z'
          AND attributes = (SELECT attributes FROM emu_acts WHERE activity_type_id = 46
                            AND activity_date >= '2025-10-01T00:00:00Z' LIMIT 1)) AS same_attributes;
SELECT attributes->>'Description' AS description, attributes->'Score' AS score,
       attributes->'Source, "quoted"' AS source
FROM act_b.activities
WHERE activity_date >= '2025-09-01T00:00:00Z' AND activity_date < '2025-10-20T00:00:00Z';

ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();
DROP SCHEMA act_b CASCADE;
DROP SCHEMA act_r CASCADE;

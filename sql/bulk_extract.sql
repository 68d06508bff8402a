--
-- Leads without a usable filter, or with a created_at/updated_at range,
-- are read through Marketo's bulk lead extract: one export job per window
-- of at most 31 days, its CSV file streamed into rows.
--
SELECT emu_do('reset');
-- many jobs' calls in a few seconds: the call window is not what is tested here
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
-- the standard lead fields (earlier tests add columns to marketo.leads)
CREATE SCHEMA bulk_l;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO bulk_l;
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 0, "rate_limit": 10000}');
SELECT emu_do('generate-leads', '{"count": 1000, "from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}');
SET marketo_fdw.bulk_poll_interval = '10ms';
SET marketo_fdw.progress = off;
-- the emulator's own leads, to compare with
CREATE TEMP TABLE emu_leads AS
SELECT (j->>'id')::int AS id, j->>'email' AS email, j->>'company' AS company,
       (j->>'createdAt')::timestamptz AS created_at, (j->>'updatedAt')::timestamptz AS updated_at
FROM emu('leads') AS line, LATERAL (SELECT line::jsonb AS j) AS x;
SELECT count(*) FROM emu_leads;

-- A created_at range: exactly two windows, both ends inclusive, whole seconds.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM bulk_l.leads
WHERE created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-03-01T00:00:00Z';
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT id), min(created_at) AT TIME ZONE 'UTC' AS first,
       max(created_at) AT TIME ZONE 'UTC' AS last
FROM bulk_l.leads
WHERE created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-03-01T00:00:00Z';
-- (in call order but for the files: the second job's poll and the first
-- job's file, made together, may come in either order)
SELECT method, path ~ '^/bulk/v1/leads/export/[0-9a-f-]+/' AS job_path,
       regexp_replace(path, '^/bulk/v1/leads/export(/[0-9a-f]{8}-[0-9a-f-]+)?', '') AS call,
       body->'fields' AS fields, body->'filter' AS filter, http_status
FROM emu_rest_calls()
ORDER BY CASE WHEN path LIKE '%/file.json' THEN 1 ELSE 0 END, n;

-- The two jobs' files download together (issue 11): each answers after
-- 0.5 s, and the second's request goes out before the first has answered
-- (jobs spend 50 ms in the queue here: by the first one's end, the
-- second one may be polled again, and is done too).
SELECT emu_do('config', '{"bulk_queue_seconds": 0.05}');
SELECT emu_do('fault', '{"path": "/bulk/v1/leads/export/", "suffix": "/file.json", "method": "GET", "kind": "slow", "seconds": 0.5, "count": 2}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM bulk_l.leads
WHERE created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-03-01T00:00:00Z';
SELECT count(*) AS files, max(t) - min(t) < 0.4 AS together
FROM (SELECT (j->>'time')::float AS t FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) x
      WHERE j->>'path' LIKE '%/file.json') f;
SELECT emu_do('clear-faults');
SELECT emu_do('config', '{"bulk_queue_seconds": 0}');

-- Only the columns the query uses go in fields (and the id).
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT email) FROM bulk_l.leads
WHERE created_at BETWEEN '2026-02-01' AND '2026-02-10';
SELECT body->'fields' AS fields, body->'filter' AS filter FROM emu_rest_calls() WHERE path LIKE '%/create.json';

-- Progress: each job's state changes and the rows so far.
SET marketo_fdw.progress = on;
SELECT count(*) FROM bulk_l.leads
WHERE created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-01-20T00:00:00Z';
SET marketo_fdw.progress = off;

-- count(*) of every lead: windows from the first lead (its New Lead
-- activity) to now, contiguous, none over 31 days.
SELECT emu_do('clear-calls');
SELECT count(*) = (SELECT count(*) FROM emu_leads) AS all_leads FROM bulk_l.leads;
WITH w AS (
  SELECT n, (body->'filter'->'createdAt'->>'startAt')::timestamptz AS s,
         (body->'filter'->'createdAt'->>'endAt')::timestamptz AS e
  FROM emu_rest_calls() WHERE path LIKE '%/create.json')
SELECT count(*) = ceil(extract(epoch FROM max(e) - min(s)) / (31 * 86400)) AS one_job_per_31_days,
       min(s) = (SELECT min(created_at) FROM emu_leads) AS from_first_lead,
       now() - max(e) BETWEEN interval '-1 second' AND interval '1 minute' AS to_now,
       bool_and(e - s <= interval '31 days') AS within_31_days,
       bool_and(s = coalesce(lag_e + interval '1 second', s)) AS contiguous
FROM (SELECT s, e, lag(e) OVER (ORDER BY s) AS lag_e FROM w) x;
SELECT path, query->>'activityTypeIds' AS types, query->>'sinceDatetime' AS since
FROM emu_rest_calls() WHERE path LIKE '/rest/%';
SELECT count(*) FILTER (WHERE path LIKE '%/create.json') = count(*) FILTER (WHERE path LIKE '%/file.json')
       AS one_file_per_job,
       count(*) FILTER (WHERE path LIKE '%/cancel.json') AS cancels
FROM emu_rest_calls();

-- Values CSV makes hard: quotes, commas, line breaks inside values, a NUL
-- byte (stripped: text cannot hold it), a Unicode line separator, the
-- text null (Marketo writes it as the bare null, so it reads as NULL),
-- non-ASCII text.
SELECT emu_do('generate-leads', '{"count": 9, "from": "2025-06-01T00:00:00Z", "to": "2025-06-01T00:00:08Z", "tricky": true}');
SELECT first_name, last_name, to_jsonb(company) AS company, to_jsonb(notes) AS notes
FROM bulk_l.leads WHERE created_at BETWEEN '2025-06-01T00:00:00Z' AND '2025-06-01T00:00:08Z'
ORDER BY id;

-- The queries BI tools send.
SELECT DISTINCT company FROM bulk_l.leads ORDER BY 1 NULLS FIRST;
SELECT (SELECT array_agg(DISTINCT company ORDER BY company) FROM bulk_l.leads) =
       (SELECT array_agg(DISTINCT company ORDER BY company) FROM emu_leads) AS same_companies;
SELECT emu_do('reset');
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 0, "rate_limit": 10000}');
SELECT emu_do('generate-leads', format('{"count": 400, "from": "%s", "to": "%s"}',
       to_char((now() - interval '199 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       to_char((now() - interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
TRUNCATE emu_leads;
INSERT INTO emu_leads
SELECT (j->>'id')::int, j->>'email', j->>'company', (j->>'createdAt')::timestamptz,
       (j->>'updatedAt')::timestamptz
FROM emu('leads') AS line, LATERAL (SELECT line::jsonb AS j) AS x;
SELECT emu_do('clear-calls');
WITH remote AS (
  SELECT date_trunc('week', created_at) AS week, count(*) FROM bulk_l.leads
  WHERE created_at >= now() - interval '90 days' GROUP BY 1),
local AS (
  SELECT date_trunc('week', created_at) AS week, count(*) FROM emu_leads
  WHERE created_at >= now() - interval '90 days' GROUP BY 1)
SELECT (SELECT count(*) >= 13 FROM remote) AS weeks,
       (SELECT count(*) FROM (TABLE remote EXCEPT TABLE local) d) AS only_remote,
       (SELECT count(*) FROM (TABLE local EXCEPT TABLE remote) d) AS only_local;
-- 90 days: 3 windows, no activity lookup
SELECT count(DISTINCT body->'filter') FILTER (WHERE path LIKE '%/create.json') AS windows,
       count(*) FILTER (WHERE path LIKE '/rest/%') AS rest_calls
FROM emu_rest_calls();
WITH w AS (
  SELECT DISTINCT (body->'filter'->'createdAt'->>'startAt')::timestamptz AS s,
         (body->'filter'->'createdAt'->>'endAt')::timestamptz AS e
  FROM emu_rest_calls() WHERE path LIKE '%/create.json')
SELECT min(s) BETWEEN now() - interval '90 days 1 minute' AND now() - interval '90 days' AS from_bound,
       bool_and(e - s <= interval '31 days') AS within_31_days,
       bool_and(s = coalesce(lag_e + interval '1 second', s)) AS contiguous
FROM (SELECT s, e, lag(e) OVER (ORDER BY s) AS lag_e FROM w) x;

-- updated_at: Marketo's updatedAt filter, rechecked locally.
SELECT emu_do('clear-calls');
SELECT count(*) = (SELECT count(*) FROM emu_leads WHERE updated_at >= now() - interval '20 days')
       AS same_count
FROM bulk_l.leads WHERE updated_at >= now() - interval '20 days';
SELECT count(*) AS jobs, min(body->'filter'->'updatedAt'->>'startAt') IS NOT NULL AS updated_filter
FROM emu_rest_calls() WHERE path LIKE '%/create.json';
-- Where the subscription has no updatedAt filter (1035): createdAt windows
-- from the first lead, with a NOTICE.
SELECT emu_do('config', '{"bulk_updated_at": false}');
SELECT emu_do('clear-calls');
SELECT count(*) = (SELECT count(*) FROM emu_leads WHERE updated_at >= now() - interval '20 days')
       AS same_count
FROM bulk_l.leads WHERE updated_at >= now() - interval '20 days';
SELECT n, error_code, body->'filter' ? 'updatedAt' AS updated, body->'filter' ? 'createdAt' AS created
FROM emu_rest_calls() WHERE path LIKE '%/create.json' ORDER BY n LIMIT 2;
SELECT emu_do('config', '{"bulk_updated_at": true}');

-- LIMIT n alone: the first n leads over REST, no export job.
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF) SELECT * FROM bulk_l.leads LIMIT 100;
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT count(*) FROM (SELECT id, email FROM bulk_l.leads LIMIT 100) p;
SELECT clock_timestamp() - t < interval '2 s' AS under_2_s FROM t0;
SELECT count(*) AS calls, count(*) FILTER (WHERE path LIKE '/bulk/%') AS bulk_calls FROM emu_calls();
-- a LIMIT with other conditions reads in bulk
EXPLAIN (COSTS OFF) SELECT * FROM bulk_l.leads WHERE company = 'X' LIMIT 10;

-- The table option read_method forces either.
ALTER FOREIGN TABLE bulk_l.leads OPTIONS (ADD read_method 'bulk');
EXPLAIN (COSTS OFF) SELECT id FROM bulk_l.leads LIMIT 10;
-- LIMIT 10 stops after the first job's rows: the second job, still
-- queued behind it (one job processed at a time here, for 1 s), is
-- cancelled.
SELECT emu_do('config', '{"bulk_process_seconds": 1, "bulk_max_processing": 1}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM (SELECT id FROM bulk_l.leads LIMIT 10) p;
SELECT count(*) FILTER (WHERE path LIKE '%/create.json') > 0 AS bulk,
       count(*) FILTER (WHERE path LIKE '%/cancel.json') AS cancelled_early
FROM emu_rest_calls();
SELECT emu_do('config', '{"bulk_process_seconds": 0, "bulk_max_processing": 2}');
ALTER FOREIGN TABLE bulk_l.leads OPTIONS (SET read_method 'rest');
EXPLAIN (COSTS OFF) SELECT count(*) FROM bulk_l.leads;
ALTER FOREIGN TABLE bulk_l.leads OPTIONS (SET read_method 'fast');
ALTER FOREIGN TABLE bulk_l.leads OPTIONS (DROP read_method);

-- EXPLAIN ANALYZE counts the calls.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM bulk_l.leads WHERE created_at >= now() - interval '20 days';

-- A materialized view: the local copy a BI tool reads fast.
CREATE MATERIALIZED VIEW recent_leads AS
SELECT id, email, created_at FROM bulk_l.leads WHERE created_at >= now() - interval '30 days';
SELECT count(*) = (SELECT count(*) FROM emu_leads WHERE created_at >= now() - interval '30 days')
       AS same_count FROM recent_leads;
SELECT emu_do('generate-leads', format('{"count": 5, "from": "%s"}',
       to_char((now() - interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
REFRESH MATERIALIZED VIEW recent_leads;
SELECT count(*) - (SELECT count(*) FROM emu_leads WHERE created_at >= now() - interval '30 days')
       AS new_rows FROM recent_leads;
DROP MATERIALIZED VIEW recent_leads;

-- pg_dump --include-foreign-data dumps the leads' rows.
CREATE FUNCTION program_lines(command text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS program_out (line text);
  TRUNCATE program_out;
  EXECUTE format('COPY program_out FROM PROGRAM %L WITH (FORMAT csv, DELIMITER E''\x01'', QUOTE E''\x02'')',
                 command);
  RETURN QUERY SELECT line FROM program_out;
END $$;
SELECT count(*) FILTER (WHERE line LIKE 'COPY bulk_l.leads %') AS copy_lines,
       count(*) FILTER (WHERE line ~ '^[0-9]+\t') = (SELECT count(*) FROM emu('leads')) AS every_lead
FROM program_lines(format('PGOPTIONS="-c marketo_fdw.bulk_poll_interval=10ms -c marketo_fdw.progress=off" pg_dump --data-only --include-foreign-data=marketo -t bulk_l.leads -h %s -p %s -d %s 2>&1',
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'), current_database())) AS line;

-- Program members of a program over Marketo's filter limit (here 3; in
-- Marketo 100,000): the REST query is refused (1003), so the program is
-- read through a bulk program member extract.
CREATE SCHEMA bulk_pm;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (program_members) FROM SERVER marketo INTO bulk_pm;
SELECT emu_do('reset');
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 0, "member_limit": 3, "rate_limit": 10000}');
SELECT emu_do('clear-calls');
SELECT lead_id, status_name FROM bulk_pm.program_members WHERE program_id = 1044 ORDER BY 1;
SELECT n, method, regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]+', 'ID') AS path, error_code,
       body->'filter' AS filter
FROM emu_rest_calls();
-- under the limit: one REST call, as before
SELECT emu_do('clear-calls');
SELECT count(*) FROM bulk_pm.program_members WHERE program_id = 1045;
SELECT count(*) AS calls FROM emu_rest_calls();

-- Without any program_id: every program's members, the program ids from
-- the asset API's program listing, 10 programs a job.
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF) SELECT * FROM bulk_pm.program_members LIMIT 10;
SELECT count(*) FROM (SELECT * FROM bulk_pm.program_members LIMIT 10) m;
SELECT emu_do('clear-calls');
SELECT count(*) = (SELECT count(*) FROM emu('members')) AS every_member,
       count(DISTINCT program_id) AS programs
FROM bulk_pm.program_members;
SELECT n, method, regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]+', 'ID') AS path,
       query->>'maxReturn' AS max_return, query->>'offset' AS "offset", body->'filter' AS filter
FROM emu_rest_calls();
DROP SCHEMA bulk_pm CASCADE;
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();
DROP SCHEMA bulk_l CASCADE;

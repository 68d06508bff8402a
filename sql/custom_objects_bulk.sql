--
-- Custom object tables through Marketo's bulk custom object extract.  REST
-- cannot list a custom object type, so a read without a usable filter is
-- an export: updatedAt windows of at most 31 days (the export has no
-- createdAt filter), from the query's updated_at bounds, an open start
-- being the first lead's creation.  A filter, or read_method 'rest', reads
-- over REST.
--
SELECT emu_do('reset');
-- many jobs' calls in a few seconds: the call window is not what is tested here
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
CREATE SCHEMA cob;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (car_c, course_enrollment_c) FROM SERVER marketo INTO cob;
-- the same tables read over REST, to compare with
CREATE SCHEMA cor;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (car_c, course_enrollment_c) FROM SERVER marketo INTO cor;
ALTER FOREIGN TABLE cor.car_c OPTIONS (ADD read_method 'rest');
ALTER FOREIGN TABLE cor.course_enrollment_c OPTIONS (ADD read_method 'rest');
SELECT emu_do('config', '{"bulk_queue_seconds": 0, "bulk_process_seconds": 0, "rate_limit": 10000}');
SET marketo_fdw.bulk_poll_interval = '10ms';
SET marketo_fdw.progress = off;
-- The error a statement raises, export ids (random UUIDs) masked.
CREATE FUNCTION cob_error(statement text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  msg text; detail text; hint text;
BEGIN
  EXECUTE statement;
  RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT regexp_replace(x, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'EXPORT-ID', 'g')
    FROM unnest(ARRAY['ERROR: ' || msg, 'DETAIL: ' || detail, 'HINT: ' || hint]) AS x
    WHERE x !~ ': $';
END $$;
-- The create calls' filters and fields.
CREATE TEMP VIEW cob_jobs AS
SELECT n, path, body->'filter' AS filter,
       (body->'filter'->'updatedAt'->>'startAt')::timestamptz AS start_at,
       (body->'filter'->'updatedAt'->>'endAt')::timestamptz AS end_at,
       body->'fields' AS fields, error_code
FROM emu_rest_calls() WHERE path LIKE '/bulk/v1/customobjects/%/export/create.json';
-- The calls of a read, by kind.
CREATE TEMP VIEW cob_calls AS
SELECT regexp_replace(path, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '{exportId}') AS call,
       method, count(*) AS calls
FROM emu_rest_calls() GROUP BY 1, 2;

-- Without a filter: the bulk extract, updatedAt windows from the first lead.
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM cob.car_c;
SELECT emu_do('clear-calls');
CREATE TEMP TABLE bulk_cars AS SELECT * FROM cob.car_c;
-- The first lead's creation (its New Lead activity), then one job per
-- window: create, enqueue, status, file.
SELECT call, method, calls > 0 AS called,
       calls = (SELECT count(*) FROM cob_jobs) AS one_per_job
FROM cob_calls ORDER BY 1, 2;
-- The windows: only updatedAt, from the first lead's creation (the seeded
-- leads', 2024-05-17T22:11:45Z) to now, 31 days less a second each, each
-- starting a second after the last; the fields are the table's columns.
SELECT count(*) > 1 AS several,
       min(start_at) = '2024-05-17T22:11:45Z' AS from_first_lead,
       max(end_at) BETWEEN now() - interval '1 minute' AND now() + interval '1 minute' AS to_now,
       bool_and(end_at - start_at <= interval '31 days' - interval '1 second') AS at_most_31_days,
       bool_and(filter ?& ARRAY['updatedAt'] AND NOT filter ? 'createdAt'
                AND (SELECT count(*) FROM jsonb_object_keys(filter)) = 1) AS only_updated_at,
       bool_and(path = '/bulk/v1/customobjects/car_c/export/create.json') AS type_path
FROM cob_jobs;
SELECT count(*) AS gaps FROM (
  SELECT start_at, lag(end_at) OVER (ORDER BY n) AS prev_end FROM cob_jobs) w
WHERE prev_end IS NOT NULL AND start_at <> prev_end + interval '1 second';
SELECT DISTINCT fields FROM cob_jobs;
-- The rows are those REST reads with a filter, and the emulator's records.
SELECT vin, lead_id, make, model, year, color, purchase_price, purchased_on FROM bulk_cars ORDER BY vin;
SELECT count(*) AS differences FROM (
  (SELECT * FROM bulk_cars EXCEPT SELECT * FROM cor.car_c WHERE lead_id IN (1001, 1002, 1003))
  UNION ALL
  (SELECT * FROM cor.car_c WHERE lead_id IN (1001, 1002, 1003) EXCEPT SELECT * FROM bulk_cars)) d;
SELECT (SELECT array_agg(r::jsonb->>'marketoGUID' ORDER BY 1) FROM emu('records', 'customobjects/car_c') r)
       = (SELECT array_agg(marketo_guid ORDER BY 1) FROM bulk_cars) AS same_records;

-- A compound key's type too (its compound read wants a key).
SELECT emu_do('clear-calls');
SELECT course_id, lead_id, status, score, completed FROM cob.course_enrollment_c ORDER BY 1, 2;
SELECT DISTINCT path FROM cob_jobs;

-- An updated_at range is pushed as the windows: 70 days, three jobs.
SELECT emu_do('add-records customobjects/car_c', '[
  {"vin": "59UYA31581L000000", "leadId": 1004, "make": "Volvo", "createdAt": "2025-01-10T08:00:00Z", "updatedAt": "2025-01-10T08:00:00Z"},
  {"vin": "69UYA31581L000000", "leadId": 1005, "make": "Saab", "createdAt": "2025-01-10T08:00:00Z", "updatedAt": "2025-03-01T12:00:00Z"},
  {"vin": "79UYA31581L000000", "leadId": 1005, "make": "Lada", "createdAt": "2025-01-10T08:00:00Z", "updatedAt": "2025-06-01T00:00:00Z"}]');
EXPLAIN (COSTS OFF)
SELECT vin FROM cob.car_c WHERE updated_at >= '2025-01-01T00:00:00Z' AND updated_at < '2025-03-12T00:00:00Z';
SELECT emu_do('clear-calls');
SELECT vin, make, updated_at FROM cob.car_c
WHERE updated_at >= '2025-01-01T00:00:00Z' AND updated_at < '2025-03-12T00:00:00Z' ORDER BY vin;
SELECT filter FROM cob_jobs ORDER BY start_at;
-- A lower bound alone: windows from it to now; no first lead asked for.
SELECT emu_do('clear-calls');
SELECT vin FROM cob.car_c WHERE updated_at > '2025-05-01T00:00:00Z';
SELECT min(start_at) AS first_start, count(*) > 1 AS several FROM cob_jobs;
SELECT count(*) AS activity_calls FROM emu_rest_calls() WHERE path LIKE '/rest/v1/activities%';
-- An upper bound alone: from the first lead's creation to it.
SELECT emu_do('clear-calls');
SELECT vin FROM cob.car_c WHERE updated_at <= '2024-07-01T00:00:00Z' ORDER BY vin;
SELECT filter FROM cob_jobs ORDER BY start_at;
-- A created_at bound is no filter of the export: only rechecked locally.
SELECT emu_do('clear-calls');
SELECT vin FROM cob.car_c
WHERE created_at >= '2025-01-01T00:00:00Z' AND updated_at >= '2025-02-01T00:00:00Z' ORDER BY vin;
SELECT (array_agg(filter ORDER BY start_at))[1] AS first_window, count(*) > 1 AS several,
       bool_and(NOT filter ? 'createdAt') AS no_created_at
FROM cob_jobs;

-- read_method: 'rest' never extracts (so a read without a filter needs
-- one); a usable filter is read by it, 'bulk' or not; LIMIT without a
-- filter has no REST read to go to.
SELECT * FROM cob_error('SELECT count(*) FROM cor.car_c');
ALTER FOREIGN TABLE cob.car_c OPTIONS (ADD read_method 'bulk');
SELECT emu_do('clear-calls');
SELECT make FROM cob.car_c WHERE vin = '39UYA31581L000000';
SELECT n, method, path, query->>'filterType' AS filter_type FROM emu_rest_calls();
ALTER FOREIGN TABLE cob.car_c OPTIONS (DROP read_method);
SELECT emu_do('clear-calls');
SELECT make FROM cob.car_c WHERE lead_id = 1002;
SELECT n, method, path, query->>'filterType' AS filter_type FROM emu_rest_calls();
EXPLAIN (COSTS OFF) SELECT vin FROM cob.car_c LIMIT 1;

-- Faults: a Failed job fails the statement with Marketo's reason.
SELECT emu_do('fault', '{"kind": "job_fail", "message": "Export failed: internal error"}');
SELECT * FROM cob_error($$SELECT count(*) FROM cob.car_c WHERE updated_at >= '2025-01-01T00:00:00Z' AND updated_at < '2025-01-20T00:00:00Z'$$);
SELECT count(*) FILTER (WHERE status = 'Failed') AS failed,
       count(*) FILTER (WHERE status NOT IN ('Completed', 'Failed', 'Cancelled')) AS left_running
FROM jsonb_to_recordset((SELECT jsonb_agg(j::jsonb) FROM emu('bulk-jobs') j))
  AS x(status text, object text) WHERE object = 'customobjects/car_c';
-- No updatedAt filter on the subscription (1035): no other date filter
-- to go over to, so an error, with a hint.
SELECT emu_do('config', '{"bulk_updated_at": false}');
SELECT emu_do('clear-calls');
SELECT * FROM cob_error($$SELECT count(*) FROM cob.car_c WHERE updated_at >= '2025-01-01T00:00:00Z'$$);
SELECT error_code, filter FROM cob_jobs ORDER BY start_at;
SELECT emu_do('config', '{"bulk_updated_at": true}');

SET client_min_messages = warning;
DROP SCHEMA cob CASCADE;
DROP SCHEMA cor CASCADE;
RESET client_min_messages;
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();

--
-- Calls in parallel (issue 11, item 2): the first pages of a filtered
-- read's chunks of 300 values go out together, as many as the limiter has
-- room for (at most marketo_fdw.max_concurrent_calls, 10), through
-- libcurl's multi interface.  Answers and call counts stay as they were.
--
SELECT emu_do('reset');
-- The rate window lifted (here and at the emulator): the tests before
-- this one may have filled it, and the group then has room for fewer.
SELECT emu_do('config', '{"rate_limit": 10000}');
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
CREATE SCHEMA pc;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO pc;

-- When each REST call started, by the emulator's log, from the first.
CREATE FUNCTION pc_call_starts()
RETURNS TABLE (n bigint, started double precision, query jsonb, error_code text, http_status int)
LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY (j->>'seq')::int),
         (j->>'time')::double precision - min((j->>'time')::double precision) OVER (),
         j->'query', j->>'error_code', (j->>'http_status')::int
  FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) AS x
  WHERE j->>'path' NOT LIKE '/identity/%'
$$;
-- The calls this backend holds in flight (the limiter's count).
CREATE FUNCTION pc_in_flight() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(sum(in_flight), 0) FROM marketo_call_stats() WHERE scope <> 'backend'
$$;

-- 3,000 ids, 10 chunks: each call's answer takes 0.5 s.  All 10 start
-- together, before the first answer (read one after another, they would
-- start 0.5 s apart: the last 4.5 s after the first), and the rows are
-- those of the 3,000 ids.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 0.5, "count": 10}');
SELECT emu_do('clear-calls');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
SELECT id, email FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)))
ORDER BY id;
SELECT clock_timestamp() - t < interval '2 s' AS overlapped_in_time FROM started;
DROP TABLE started;
SELECT count(*) AS calls, max(started) < 0.4 AS all_started_together,
       count(DISTINCT query->>'filterValues') AS distinct_chunks,
       sum(array_length(string_to_array(query->>'filterValues', ','), 1)) AS values_sent
FROM pc_call_starts();
SELECT pc_in_flight() AS in_flight;

-- Emails: the same rows as one chunk at a time; 3,000 values, 10 calls.
SELECT emu_do('clear-calls');
SELECT id, email FROM pc.leads
WHERE email = ANY (ARRAY(SELECT 'nobody' || g || '@example.com' FROM generate_series(1, 2997) g)
                   || '{abe@usa.gov,zoe@example.de,lyanna@housestark.com}'::text[])
ORDER BY id;
SELECT count(*) AS calls FROM emu_rest_calls();
-- Under a LIMIT the scan may stop after its first chunk: the chunks are
-- read one at a time, and LIMIT 1 costs one call, as before.
SELECT emu_do('clear-calls');
SELECT id FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000))) LIMIT 1;
SELECT count(*) AS calls FROM emu_rest_calls();

-- Records come in chunk order whatever order the answers arrive in: the
-- first call to arrive is answered last.  abe@usa.gov is in the first
-- chunk, zoe@example.de in the second (values go sorted).
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 0.5}');
SELECT id, email FROM pc.leads
WHERE email = ANY (ARRAY(SELECT 'b' || g || '@example.com' FROM generate_series(1, 400) g)
                   || '{zoe@example.de,abe@usa.gov}'::text[]);

-- Fewer calls at once when the limiter has less room: 3 at a time.
ALTER SYSTEM SET marketo_fdw.max_concurrent_calls = 3;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 0.4, "count": 10}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)));
-- the first 3 together, the next 3 when they are answered, ...
SELECT count(*) AS calls, count(*) FILTER (WHERE started < 0.35) AS first_together,
       max(started) > 1.1 AS in_groups
FROM pc_call_starts();
-- Two backends' groups share the 3: each waits for room only while it
-- holds no ticket, so neither waits on the other while holding some.
-- Both finish with their rows, each chunk answered once (Marketo's limit
-- is 3 too: a 615 it may give as a slot frees is retried, not counted).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT dblink_connect('p1', self_conn()), dblink_connect('p2', self_conn());
SELECT emu_do('config', '{"concurrency_limit": 3}');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 0.2, "count": 20}');
SELECT emu_do('clear-calls');
SELECT dblink_send_query(c, 'SELECT count(*) FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)))')
FROM unnest(ARRAY['p1', 'p2']) c;
SELECT c, (SELECT n FROM dblink_get_result(c) AS t(n bigint)) FROM unnest(ARRAY['p1', 'p2']) c;
SELECT c, (SELECT count(*) FROM dblink_get_result(c) AS t(n bigint)) AS rest FROM unnest(ARRAY['p1', 'p2']) c;
SELECT count(*) FILTER (WHERE error_code IS NULL) AS answered,
       count(*) FILTER (WHERE error_code IS DISTINCT FROM '615' AND error_code IS NOT NULL) AS other_errors
FROM emu_rest_calls() WHERE path = '/rest/v1/leads.json';
SELECT emu_do('config', '{"concurrency_limit": 10}');
SELECT dblink_disconnect(c) FROM unnest(ARRAY['p1', 'p2']) c;
SELECT emu_do('clear-faults');
ALTER SYSTEM RESET marketo_fdw.max_concurrent_calls;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- One of the calls fails (the 4th to arrive): the statement fails with
-- its error, the others are abandoned and their tickets given back.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 0.3, "count": 3}');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "error", "code": "1003", "message": "Invalid filter value"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)));
SELECT pc_in_flight() AS in_flight;
SELECT count(*) FILTER (WHERE error_code = '1003') AS failed, count(*) <= 10 AS at_most_one_group
FROM pc_call_starts();
-- an HTTP 500 on one call (not a status Marketo retries): reported
SET marketo_fdw.retry_delay = 10;
SELECT emu_do('clear-faults');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "http", "status": 500}');
SELECT count(*) FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)));
SELECT pc_in_flight() AS in_flight;
-- retried to success within its group: the same rows
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "http", "status": 503, "count": 2}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)));
SELECT count(*) AS calls, count(*) FILTER (WHERE http_status = 503) AS retried FROM pc_call_starts();
RESET marketo_fdw.retry_delay;

-- Cancel: statement_timeout during the group's calls, which hang 30 s.
SELECT emu_do('clear-faults');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 30, "count": 10}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
SET statement_timeout = '1s';
SELECT count(*) FROM pc.leads WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4000)));
RESET statement_timeout;
SELECT clock_timestamp() - t < interval '2.5 s' AS prompt FROM started;
SELECT pc_in_flight() AS in_flight;
SELECT emu_do('clear-faults');
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();

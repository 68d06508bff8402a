--
-- Per-parent listings in parallel (issue 11, item 2): keys that Marketo
-- answers one per call (a lead's memberships by lead_id) and parent keys
-- (program members by program_id, with a filter within each program) send
-- the first pages of several keys together, as IN-list chunks do, then
-- read each key's records, and its further pages, in key order.
--
SELECT emu_do('reset');
-- The rate window lifted (here and at the emulator): the tests before
-- this one may have filled it, and a group then has room for fewer.
SELECT emu_do('config', '{"rate_limit": 10000}');
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
CREATE SCHEMA pp;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (lead_lists, lead_programs, lead_smart_campaigns, program_members)
  FROM SERVER marketo INTO pp;

-- When each REST call started and ended, by the emulator's log, from the
-- first start.
CREATE FUNCTION pp_calls()
RETURNS TABLE (n bigint, path text, started double precision, query jsonb, error_code text)
LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY (j->>'seq')::int), j->>'path',
         (j->>'time')::double precision - min((j->>'time')::double precision) OVER (),
         j->'query', j->>'error_code'
  FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) AS x
  WHERE j->>'path' NOT LIKE '/identity/%'
$$;
CREATE FUNCTION pp_in_flight() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(sum(in_flight), 0) FROM marketo_call_stats() WHERE scope <> 'backend'
$$;

-- A lead's memberships, one call per lead: 10 leads under 0.5 s latency.
-- All 10 calls start together, before the first answer (one after
-- another they would start 0.5 s apart).
EXPLAIN (COSTS OFF)
SELECT lead_id, list_id FROM pp.lead_lists WHERE lead_id IN (1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010);
SELECT emu_do('fault', '{"path": "/rest/v1/leads/", "method": "GET", "kind": "slow", "seconds": 0.5, "count": 10}');
SELECT emu_do('clear-calls');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
CREATE TEMP TABLE lists_together AS
SELECT lead_id, list_id, created_at FROM pp.lead_lists
WHERE lead_id IN (1010, 1009, 1008, 1007, 1006, 1005, 1004, 1003, 1002, 1001);
SELECT clock_timestamp() - t < interval '2 s' AS overlapped_in_time FROM started;
DROP TABLE started;
SELECT count(*) AS calls, count(DISTINCT path) AS leads, max(started) < 0.4 AS all_started_together
FROM pp_calls();
SELECT pp_in_flight() AS in_flight;
-- In key order whatever order the answers arrive in: 1001's comes last.
SELECT emu_do('fault', '{"path": "/rest/v1/leads/1001/", "method": "GET", "kind": "slow", "seconds": 0.5}');
SELECT emu_do('clear-calls');
SELECT lead_id, list_id FROM pp.lead_lists WHERE lead_id IN (1001, 1002, 1003, 1004);
SELECT count(*) AS calls, max(started) < 0.4 AS all_started_together FROM pp_calls();
-- The same rows one call at a time; the calls then do not overlap.
ALTER SYSTEM SET marketo_fdw.max_concurrent_calls = 1;
SELECT pg_reload_conf(), pg_sleep(0.3);
SELECT emu_do('fault', '{"path": "/rest/v1/leads/", "method": "GET", "kind": "slow", "seconds": 0.2, "count": 10}');
SELECT emu_do('clear-calls');
CREATE TEMP TABLE lists_serial AS
SELECT lead_id, list_id, created_at FROM pp.lead_lists
WHERE lead_id IN (1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010);
SELECT count(*) AS calls, max(started) > 1.6 AS one_after_another FROM pp_calls();
ALTER SYSTEM RESET marketo_fdw.max_concurrent_calls;
SELECT pg_reload_conf(), pg_sleep(0.3);
SELECT (SELECT count(*) FROM lists_serial) AS serial_rows,
       (SELECT count(*) FROM (TABLE lists_together EXCEPT ALL TABLE lists_serial) d) AS only_together,
       (SELECT count(*) FROM (TABLE lists_serial EXCEPT ALL TABLE lists_together) d) AS only_serial;
-- Pages of 1: each lead's further pages follow its first, in lead order.
SELECT emu_do('config', '{"page_size": 1}');
SELECT emu_do('clear-calls');
SELECT lead_id, list_id FROM pp.lead_lists WHERE lead_id IN (1001, 1002, 1003);
SELECT path, query ? 'nextPageToken' AS has_token, count(*) FROM pp_calls() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT max(n) FILTER (WHERE NOT query ? 'nextPageToken') < min(n) FILTER (WHERE query ? 'nextPageToken')
       AS first_pages_first
FROM pp_calls();
SELECT emu_do('config', '{"page_size": 300}');
-- Under a LIMIT the scan may stop after its first lead: one call at a
-- time, and LIMIT 1 costs one call.
SELECT emu_do('clear-calls');
SELECT lead_id FROM pp.lead_programs WHERE lead_id IN (1001, 1002, 1003, 1004) LIMIT 1;
SELECT count(*) AS calls FROM pp_calls();

-- Program members of several programs by a filter within each, one
-- program of 650 matching members (3 pages): the first pages of the 4
-- programs go out together, then 1047's other pages one after another.
SELECT emu_do('add-members', '{"programId": 1047, "generate": 650, "statusName": "Registered", "startLeadId": 1013}');
EXPLAIN (COSTS OFF)
SELECT program_id, lead_id FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046, 1047) AND status_name IN ('Invited', 'Registered', 'Sent', 'Attended');
SELECT emu_do('fault', '{"path": "/rest/v1/programs/", "method": "GET", "kind": "slow", "seconds": 0.5, "count": 6}');
SELECT emu_do('clear-calls');
CREATE TEMP TABLE members_together AS
SELECT program_id, lead_id, status_name FROM pp.program_members
WHERE program_id IN (1047, 1046, 1045, 1044) AND status_name IN ('Invited', 'Registered', 'Sent', 'Attended');
SELECT path, query->>'filterType' AS filter_type, query ? 'nextPageToken' AS has_token,
       started < 0.4 AS in_first_group
FROM pp_calls() ORDER BY path, has_token;
SELECT program_id, count(*), min(lead_id), max(lead_id) FROM members_together GROUP BY 1 ORDER BY 1;
-- In program order whatever order the answers arrive in: 1044's last.
SELECT emu_do('fault', '{"path": "/rest/v1/programs/1044/", "method": "GET", "kind": "slow", "seconds": 0.5}');
SELECT emu_do('clear-calls');
SELECT program_id, lead_id, status_name FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046) AND status_name IN ('Invited', 'Registered', 'Sent', 'Attended');
SELECT count(*) AS calls, max(started) < 0.4 AS all_started_together FROM pp_calls();
-- The same rows one call at a time.
ALTER SYSTEM SET marketo_fdw.max_concurrent_calls = 1;
SELECT pg_reload_conf(), pg_sleep(0.3);
SELECT emu_do('clear-calls');
CREATE TEMP TABLE members_serial AS
SELECT program_id, lead_id, status_name FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046, 1047) AND status_name IN ('Invited', 'Registered', 'Sent', 'Attended');
SELECT count(*) AS calls FROM pp_calls();
ALTER SYSTEM RESET marketo_fdw.max_concurrent_calls;
SELECT pg_reload_conf(), pg_sleep(0.3);
SELECT (SELECT count(*) FROM members_serial) AS serial_rows,
       (SELECT count(*) FROM (TABLE members_together EXCEPT ALL TABLE members_serial) d) AS only_together,
       (SELECT count(*) FROM (TABLE members_serial EXCEPT ALL TABLE members_together) d) AS only_serial;
-- program_id alone is read by the every-record filter, whose first call
-- asks for Marketo's filter-limit refusal back: the programs' first calls
-- go together all the same.  With the limit lowered to 3, 1044 (5
-- members) is refused and goes on by a bulk extract; 1045's answer, come
-- meanwhile, is read after it.
SELECT emu_do('config', '{"member_limit": 3}');
SELECT emu_do('clear-calls');
SELECT program_id, count(*), min(lead_id), max(lead_id) FROM pp.program_members
WHERE program_id IN (1044, 1045) GROUP BY 1 ORDER BY 1;
-- (the two first calls, sent together, arrive in either order)
SELECT regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]{27}', 'EXPORT-ID') AS path,
       query->>'filterType' AS filter_type, error_code
FROM pp_calls() ORDER BY path LIKE '/bulk/%', CASE WHEN path LIKE '/bulk/%' THEN n END, path;
SELECT emu_do('config', '{"member_limit": 100000}');
-- Under a LIMIT: one program at a time.
SELECT emu_do('clear-calls');
SELECT lead_id FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046) AND status_name IN ('Invited', 'Sent') LIMIT 1;
SELECT count(*) AS calls FROM pp_calls();
-- The budget counts every call of a group: 5 calls allow the 4 first
-- pages and 1047's second, and stop the scan at its third.
SET marketo_fdw.max_calls_per_statement = 5;
SELECT emu_do('clear-calls');
SELECT count(*) FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046, 1047) AND status_name IN ('Invited', 'Registered', 'Sent', 'Attended');
SELECT count(*) AS calls FROM pp_calls();
RESET marketo_fdw.max_calls_per_statement;

-- A batched join of local lead ids to their memberships: the block's
-- keys' calls go out together.  It makes a call per key, as a nested loop
-- would, but costs less for their overlapping waits, so the planner takes
-- it.
CREATE TABLE pp.local_ids (id int);
INSERT INTO pp.local_ids SELECT generate_series(1001, 1010);
INSERT INTO pp.local_ids VALUES (1001), (NULL);
ANALYZE pp.local_ids;
EXPLAIN (COSTS OFF)
SELECT t.id, m.list_id FROM pp.local_ids t JOIN pp.lead_lists m ON m.lead_id = t.id;
SELECT emu_do('fault', '{"path": "/rest/v1/leads/", "method": "GET", "kind": "slow", "seconds": 0.5, "count": 10}');
SELECT emu_do('clear-calls');
SELECT t.id, m.list_id FROM pp.local_ids t JOIN pp.lead_lists m ON m.lead_id = t.id ORDER BY 1, 2;
SELECT count(*) AS calls, count(DISTINCT path) AS leads, max(started) < 0.4 AS all_started_together
FROM pp_calls();

-- One call of a group fails (1004's, while the others take 0.3 s): the
-- statement fails with its error, and no call is left in flight.
SELECT emu_do('fault', '{"path": "/rest/v1/leads/1004/", "method": "GET", "kind": "error", "code": "1003", "message": "Invalid lead id"}');
SELECT emu_do('fault', '{"path": "/rest/v1/leads/", "method": "GET", "kind": "slow", "seconds": 0.3, "count": 5}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM pp.lead_lists WHERE lead_id IN (1001, 1002, 1003, 1004, 1005, 1006);
SELECT pp_in_flight() AS in_flight;
SELECT count(*) FILTER (WHERE error_code = '1003') AS failed, count(*) <= 6 AS one_group,
       max(started) < 0.2 AS sent_together
FROM pp_calls();
SELECT emu_do('clear-faults');
-- the same among programs
SELECT emu_do('fault', '{"path": "/rest/v1/programs/1045/", "method": "GET", "kind": "error", "code": "1003", "message": "Invalid programId"}');
SELECT emu_do('fault', '{"path": "/rest/v1/programs/", "method": "GET", "kind": "slow", "seconds": 0.3, "count": 2}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046) AND status_name IN ('Invited', 'Sent');
SELECT pp_in_flight() AS in_flight;
SELECT count(*) AS calls, count(*) FILTER (WHERE error_code = '1003') AS failed,
       max(started) < 0.2 AS sent_together
FROM pp_calls();
SELECT emu_do('clear-faults');

-- statement_timeout during a group whose calls hang 30 s: prompt, and
-- nothing left in flight.
SELECT emu_do('fault', '{"path": "/rest/v1/leads/", "method": "GET", "kind": "slow", "seconds": 30, "count": 10}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
SET statement_timeout = '1s';
SELECT count(*) FROM pp.lead_smart_campaigns WHERE lead_id IN (1001, 1002, 1003, 1004, 1005);
RESET statement_timeout;
SELECT clock_timestamp() - t < interval '2.5 s' AS prompt FROM started;
DROP TABLE started;
SELECT pp_in_flight() AS in_flight;
SELECT emu_do('clear-faults');
SELECT emu_do('fault', '{"path": "/rest/v1/programs/", "method": "GET", "kind": "slow", "seconds": 30, "count": 10}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
SET statement_timeout = '1s';
SELECT count(*) FROM pp.program_members
WHERE program_id IN (1044, 1045, 1046, 1047) AND status_name IN ('Invited', 'Sent');
RESET statement_timeout;
SELECT clock_timestamp() - t < interval '2.5 s' AS prompt FROM started;
SELECT pp_in_flight() AS in_flight;
SELECT emu_do('clear-faults');

ALTER SYSTEM RESET marketo_fdw.max_concurrent_calls;
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();

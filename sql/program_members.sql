--
-- Program members: records inside a program (seed 001).  Every read needs
-- program_id; writes set the status through members/status.json.
--
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA pm;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (program_members) FROM SERVER marketo INTO pm;
SELECT attname, atttypid::regtype, attfdwoptions
FROM pg_attribute WHERE attrelid = 'pm.program_members'::regclass AND attnum > 0
ORDER BY attnum;
SET client_min_messages = notice;

-- Without program_id: a clear error, and no call.
SELECT emu_do('clear-calls');
SELECT lead_id FROM pm.program_members WHERE status_name = 'Attended';
SELECT count(*) AS calls FROM emu_rest_calls();

-- program_id and a filter: the program in the path, the filter as
-- filterType/filterValues.
EXPLAIN (COSTS OFF, VERBOSE)
SELECT lead_id, status_name FROM pm.program_members
WHERE program_id = 1044 AND status_name IN ('Registered', 'Attended');
SELECT emu_do('clear-calls');
SELECT lead_id, status_name, reached_success FROM pm.program_members
WHERE program_id = 1044 AND status_name IN ('Registered', 'Attended') ORDER BY lead_id;
SELECT n, method, path, query FROM emu_rest_calls();

-- Two programs: one call series each; lead_id is exact.
SELECT emu_do('clear-calls');
SELECT program_id, lead_id FROM pm.program_members
WHERE program_id IN (1044, 1045) AND lead_id = ANY (ARRAY[1001, 1002, 1003]) ORDER BY 1, 2;
SELECT path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls() ORDER BY path;

-- A boolean filter: the planner's "reached_success" and "NOT reached_success".
SELECT emu_do('clear-calls');
SELECT lead_id FROM pm.program_members WHERE program_id = 1044 AND reached_success ORDER BY 1;
SELECT lead_id FROM pm.program_members WHERE program_id = 1044 AND NOT reached_success ORDER BY 1;
SELECT n, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- Only program_id: every member, as reachedSuccess true or false, a page
-- a call (pages of 2 here).
SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF)
SELECT lead_id, status_name FROM pm.program_members WHERE program_id = 1044;
SELECT lead_id, status_name FROM pm.program_members WHERE program_id = 1044 ORDER BY lead_id;
SELECT n, path, query->>'fields' AS fields, query->>'filterType' AS filter_type,
       query->>'filterValues' AS filter_values, query ? 'nextPageToken' AS paged
FROM emu_rest_calls();
SELECT emu_do('config', '{"page_size": 300}');

-- updated_at ranges: startAt/endAt, in windows of at most 7 days.
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF)
SELECT lead_id FROM pm.program_members
WHERE program_id = 1044 AND updated_at >= '2024-03-01T00:00:00Z' AND updated_at < '2024-03-20T00:00:00Z';
SELECT lead_id, updated_at FROM pm.program_members
WHERE program_id = 1044 AND updated_at >= '2024-03-01T00:00:00Z' AND updated_at < '2024-03-20T00:00:00Z'
ORDER BY lead_id;
SELECT n, query->>'filterType' AS filter_type, query->>'startAt' AS start_at, query->>'endAt' AS end_at
FROM emu_rest_calls();
-- An updated_at range without a start reads every member the same way.
SELECT emu_do('clear-calls');
SELECT lead_id FROM pm.program_members
WHERE program_id = 1044 AND updated_at >= '-infinity' ORDER BY lead_id;
SELECT n, path, query->>'filterType' AS filter_type,
       query->>'filterValues' AS filter_values, query ? 'startAt' AS windowed
FROM emu_rest_calls();

-- The 100,000-member limit (lowered here) is reported with what to do.
SELECT emu_do('config', '{"member_limit": 3}');
SELECT lead_id FROM pm.program_members WHERE program_id = 1044 AND status_name = 'Attended';
-- program_id alone is read by the reachedSuccess filter, which the limit
-- refuses: the program's leads are then listed and read by leadId.
SELECT emu_do('clear-calls');
SELECT count(*) FROM pm.program_members WHERE program_id = 1044;
SELECT n, regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]{27}', 'EXPORT-ID') AS path,
       query->>'filterType' AS filter_type, error_code FROM emu_rest_calls();
-- The same through an updated_at range without a start.
SELECT emu_do('clear-calls');
SELECT count(*) FROM pm.program_members WHERE program_id = 1044 AND updated_at >= '-infinity';
SELECT n, regexp_replace(path, '[0-9a-f]{8}-[0-9a-f-]{27}', 'EXPORT-ID') AS path,
       query->>'filterType' AS filter_type, error_code FROM emu_rest_calls();
-- The lead_id form is not limited at all.
SELECT count(*) FROM pm.program_members WHERE program_id = 1044 AND lead_id IN (1001, 1002);
SELECT emu_do('config', '{"member_limit": 100000}');

-- A join gives the programs.
CREATE TEMP TABLE campaigns (program_id int, name text);
INSERT INTO campaigns VALUES (1044, 'Launch'), (1045, 'Newsletter');
ANALYZE campaigns;
SELECT emu_do('clear-calls');
SELECT c.name, m.lead_id FROM campaigns c JOIN pm.program_members m ON m.program_id = c.program_id
WHERE m.lead_id = 1001 ORDER BY 1;
SELECT n, path FROM emu_rest_calls();

-- EXPLAIN of the writes names the calls.
EXPLAIN (COSTS OFF)
INSERT INTO pm.program_members (program_id, lead_id, status_name) VALUES (1044, 1006, 'Invited');
EXPLAIN (COSTS OFF)
DELETE FROM pm.program_members WHERE program_id = 1044 AND lead_id = 1006;

-- INSERT: one status call per program and status.
SELECT emu_do('clear-calls');
INSERT INTO pm.program_members (program_id, lead_id, status_name)
VALUES (1045, 1003, 'Sent'), (1044, 1006, 'Invited'), (1045, 1004, 'Sent'), (1044, 1007, 'Registered');
SELECT n, method, path, body FROM emu_rest_calls();
SELECT program_id, lead_id, status_name FROM pm.program_members
WHERE program_id IN (1044, 1045) AND lead_id IN (1003, 1004, 1006, 1007) ORDER BY 1, 2;

-- INSERT with a custom field: the status first, then the member data.
SELECT emu_do('clear-calls');
INSERT INTO pm.program_members (program_id, lead_id, status_name, registration_code)
VALUES (1044, 1008, 'Registered', 'R-1008');
SELECT n, path, body FROM emu_rest_calls();

-- A status already reached: one WARNING with the count, not an error.
SELECT emu_do('clear-calls');
UPDATE pm.program_members SET status_name = 'Invited'
WHERE program_id = 1044 AND lead_id IN (1006, 1007);
SELECT n, path, body FROM emu_rest_calls() WHERE method = 'POST';
-- ... or an error, with the table option.
ALTER FOREIGN TABLE pm.program_members OPTIONS (ADD status_skips 'error');
UPDATE pm.program_members SET status_name = 'Invited'
WHERE program_id = 1044 AND lead_id = 1007;
ALTER FOREIGN TABLE pm.program_members OPTIONS (DROP status_skips);
ALTER FOREIGN TABLE pm.program_members OPTIONS (ADD status_skips 'maybe');

-- UPDATE of custom fields: members.json; of the keys: refused.
SELECT emu_do('clear-calls');
UPDATE pm.program_members SET registration_code = 'R-' || lead_id
WHERE program_id = 1044 AND lead_id IN (1006, 1007);
SELECT n, path, body FROM emu_rest_calls() WHERE method = 'POST';
SELECT lead_id, registration_code FROM pm.program_members
WHERE program_id = 1044 AND lead_id IN (1006, 1007) ORDER BY 1;
UPDATE pm.program_members SET lead_id = 1 WHERE program_id = 1044 AND lead_id = 1006;
UPDATE pm.program_members SET program_id = 1045 WHERE program_id = 1044 AND lead_id = 1006;
UPDATE pm.program_members SET status_name = NULL WHERE program_id = 1044 AND lead_id = 1006;
UPDATE pm.program_members SET membership_date = now() WHERE program_id = 1044 AND lead_id = 1006;

-- INSERT needs the program, the lead and the status.
INSERT INTO pm.program_members (program_id, lead_id) VALUES (1044, 1009);
INSERT INTO pm.program_members (program_id, lead_id, status_name) VALUES (1044, 1009, NULL);

-- A lead Marketo does not know: the statement fails, naming the row.
INSERT INTO pm.program_members (program_id, lead_id, status_name) VALUES (1044, 999999, 'Invited');

-- DELETE: one call per program.
SELECT emu_do('clear-calls');
DELETE FROM pm.program_members WHERE program_id IN (1044, 1045) AND lead_id IN (1003, 1006);
SELECT n, method, path, body FROM emu_rest_calls() WHERE method = 'POST';
SELECT count(*) FROM pm.program_members WHERE program_id IN (1044, 1045) AND lead_id IN (1003, 1006);

-- A member already gone when the delete arrives: Marketo's 1037 skip
-- ("Lead not in program"), a WARNING as well.
SELECT emu_do('fault', '{"path": "/rest/v1/programs/1044/members/delete.json", "kind": "record_skip", "code": "1037", "message": "Lead not in program"}');
DELETE FROM pm.program_members WHERE program_id = 1044 AND lead_id = 1007;

-- A large program: 650 members in ceil(650/300) = 3 calls.
SELECT emu_do('add-members', '{"programId": 1046, "generate": 650, "statusName": "Registered", "startLeadId": 20001}');
SELECT emu_do('clear-calls');
SELECT count(*), min(lead_id), max(lead_id), count(DISTINCT lead_id)
FROM pm.program_members WHERE program_id = 1046;
SELECT n, path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values,
       query->>'batchSize' AS batch_size, query ? 'nextPageToken' AS paged
FROM emu_rest_calls();

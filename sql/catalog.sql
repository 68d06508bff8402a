--
-- The catalog objects: programs (asset API, paged by maxReturn and offset)
-- and static lists (lists.json, paged by token), read-only, with static
-- columns that IMPORT creates without a describe call.
--
\set VERBOSITY default
SELECT emu_do('reset');
CREATE SCHEMA cat;
SELECT emu_do('clear-calls');
IMPORT FOREIGN SCHEMA marketo LIMIT TO (programs, static_lists, program_members, list_members)
  FROM SERVER marketo INTO cat;
-- programs and static_lists ask for no describe
SELECT n, method, path FROM emu_rest_calls() ORDER BY n;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('programs', 'static_lists')
  AND c.relnamespace = 'cat'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;

--
-- programs
--
-- Every column of one program: folder is jsonb, the asset API's
-- "2024-01-10T09:00:00Z+0000" times are timestamps.
SELECT emu_do('clear-calls');
SELECT * FROM cat.programs WHERE id = 1044;
SELECT n, method, path, query FROM emu_rest_calls() ORDER BY n;
SELECT folder->>'folderName' AS folder_name, (folder->>'value')::int AS folder_id
FROM cat.programs WHERE id = 1044;

-- Unfiltered: every program, 200 a call by offset until a page is short.
SELECT emu_do('add-programs', '{"generate": 250, "startId": 2001, "name": "Generated %d"}');
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT id), min(id), max(id) FROM cat.programs;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM cat.programs;

-- A last page that is full: the next offset is asked for, and its "No
-- assets found" warning ends the listing.
SELECT emu_do('reset');
-- a first call, so that the token the reset voids is not in the calls below
SELECT count(*) FROM cat.programs WHERE id = 1044;
SELECT emu_do('add-programs', '{"generate": 197, "startId": 2001, "name": "Generated %d"}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM cat.programs;
SELECT n, query->>'offset' AS offset, query->>'maxReturn' AS max_return,
       error_code, http_status
FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('reset');
-- a first call, so that the token the reset voids is not in the calls below
SELECT count(*) FROM cat.programs WHERE id = 1044;

-- id = and IN: filterType=id with the values, 200 a call.
SELECT emu_do('clear-calls');
SELECT id, name, channel FROM cat.programs WHERE id IN (1046, 1044, 9999) ORDER BY id;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, name FROM cat.programs WHERE id IN (1046, 1044, 9999);

-- Values known at execution only, more than a call takes: 200, then 50.
-- A full page by ids is all of the call's (one program an id): no next offset.
SELECT emu_do('add-programs', '{"generate": 250, "startId": 2001, "name": "Generated %d"}');
SELECT emu_do('clear-calls');
SELECT count(*), min(id), max(id) FROM cat.programs
WHERE id = ANY ((SELECT array_agg(i) FROM generate_series(2001, 2250) AS i)::int[]);
SELECT n, path, query->>'filterType' AS filter_type, query->>'offset' AS offset,
       array_length(string_to_array(query->>'filterValues', ','), 1) AS n_values
FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('reset');
-- a first call, so that the token the reset voids is not in the calls below
SELECT count(*) FROM cat.programs WHERE id = 1044;

-- No program of that id: one call, answered "No assets found".
SELECT emu_do('clear-calls');
SELECT id FROM cat.programs WHERE id = 9999;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;

-- name =: byName.json, one call per name; a name not found is the warning.
SELECT emu_do('clear-calls');
SELECT id, name, type FROM cat.programs WHERE name = 'Big Webinar';
SELECT id, name FROM cat.programs WHERE name IN ('Quiet Program', 'No Such Program') ORDER BY id;
-- (the calls of the two names are sent together: listed by name)
SELECT path, query FROM emu_rest_calls() ORDER BY query->>'name';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cat.programs WHERE name IN ('Quiet Program', 'No Such Program');
-- One name a call: a name with a comma is sent as it is (a list of
-- values, comma-joined, would refuse it).
SELECT emu_do('clear-calls');
SELECT id FROM cat.programs WHERE name = 'Launch, Q3';
SELECT path, query FROM emu_rest_calls();
-- id wins over name: the id filter is exact
SELECT emu_do('clear-calls');
SELECT id, name FROM cat.programs WHERE name = 'Big Webinar' AND id = 1046;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;

-- An updated_at range: earliestUpdatedAt/latestUpdatedAt, widened to
-- whole seconds; what Marketo keeps beyond SQL's bounds is checked here.
SELECT emu_do('clear-calls');
SELECT id, name, updated_at FROM cat.programs
WHERE updated_at >= '2024-02-01 00:00:00.5+00' AND updated_at < '2024-03-01 00:00:00+00'
ORDER BY id;
SELECT id FROM cat.programs WHERE updated_at > '2024-03-01 00:00:00+00' ORDER BY id;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cat.programs WHERE updated_at >= '2024-02-01' AND updated_at < '2024-03-01';

-- Faults: a transient error is retried; Marketo's refusal is an error.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "error", "code": "611", "message": "System error", "path": "/rest/asset/v1/programs.json"}');
SELECT count(*) FROM cat.programs;
SELECT n, path, error_code FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('fault', '{"kind": "error", "code": "603", "message": "Access denied", "path": "/rest/asset/v1/program/byName.json"}');
SELECT id FROM cat.programs WHERE name = 'Big Webinar';
SELECT emu_do('clear-faults');

-- Read-only.
INSERT INTO cat.programs (id, name) VALUES (1, 'x');
DELETE FROM cat.programs WHERE id = 1044;

--
-- static_lists
--
-- Unfiltered: every list, page by page.
SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
SELECT * FROM cat.static_lists ORDER BY id;
SELECT n, path, query->>'batchSize' AS batch_size, query ? 'nextPageToken' AS has_token
FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM cat.static_lists;

-- Each pushed column is its own query parameter, comma-separated values;
-- the pages follow by token.
SELECT emu_do('clear-calls');
SELECT id, name FROM cat.static_lists WHERE id IN (1001, 1003, 3379, 4242) ORDER BY id;
SELECT id, name FROM cat.static_lists WHERE name = 'List 1002';
SELECT id, program_name FROM cat.static_lists WHERE program_name = 'Big Webinar' ORDER BY id;
SELECT id, workspace_name FROM cat.static_lists WHERE workspace_name IN ('EMEA') ORDER BY id;
SELECT n, path, query - 'nextPageToken' AS query, query ? 'nextPageToken' AS has_token
FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cat.static_lists WHERE program_name = 'Big Webinar';
SELECT emu_do('config', '{"page_size": 300}');

-- Lists joined to their members: the lists of the program, then one
-- members call per list.
SELECT emu_do('clear-calls');
SELECT l.name, count(*) FROM cat.static_lists l
JOIN cat.list_members m ON m.list_id = l.id
WHERE l.program_name = 'Big Blue Thing Product Launch' GROUP BY 1 ORDER BY 1;
SELECT n, path, query - 'nextPageToken' - 'fields' AS query FROM emu_rest_calls() ORDER BY n;

-- None found: an empty page.
SELECT emu_do('clear-calls');
SELECT id FROM cat.static_lists WHERE id = 4242;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;

-- Faults.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "error", "code": "611", "message": "System error", "path": "/rest/v1/lists.json"}');
SELECT count(*) FROM cat.static_lists;
SELECT n, path, error_code FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('fault', '{"kind": "error", "code": "1003", "message": "Invalid id", "path": "/rest/v1/lists.json"}');
SELECT id FROM cat.static_lists WHERE id = 1001;
SELECT emu_do('clear-faults');

--
-- programs joined to their members: the right rows, and the calls that
-- gave them.  The programs are listed (one call) and LIKE keeps few of
-- them, so the planner takes the batched join: each Webinar program's
-- members read in full, the programs' calls together.
--
SELECT emu_do('add-programs', '{"generate": 3, "startId": 3001, "name": "Webinar %d"}');
SELECT emu_do('add-programs', '{"generate": 2, "startId": 3101, "name": "Roadshow %d"}');
SELECT emu_do('add-members', '{"programId": 3001, "generate": 3, "startLeadId": 300100}');
SELECT emu_do('add-members', '{"programId": 3002, "generate": 1, "startLeadId": 300200}');
SELECT emu_do('add-members', '{"programId": 3101, "generate": 2, "startLeadId": 310100}');
EXPLAIN (COSTS OFF)
SELECT p.name, count(*) FROM cat.programs p
JOIN cat.program_members m ON m.program_id = p.id
WHERE p.name LIKE 'Webinar%' GROUP BY 1 ORDER BY 1;
SELECT emu_do('clear-calls');
SELECT p.name, count(*) FROM cat.programs p
JOIN cat.program_members m ON m.program_id = p.id
WHERE p.name LIKE 'Webinar%' GROUP BY 1 ORDER BY 1;
-- (status polls of an export, were there one, left out)
SELECT regexp_replace(path, '[0-9a-f-]{36}', '{exportId}') AS path, count(*)
FROM emu_rest_calls() WHERE path NOT LIKE '%/status.json' GROUP BY 1 ORDER BY 1;
SELECT query FROM emu_rest_calls() WHERE path = '/rest/asset/v1/programs.json' ORDER BY n;
SELECT emu_do('reset');

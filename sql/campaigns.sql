--
-- Smart lists (asset API, paged by maxReturn and offset) and smart
-- campaigns (campaigns.json, paged by token), read-only with static
-- columns; requesting and scheduling campaigns; the program record's
-- unmapped members; the extension's update from 1.0 to 1.1.
--
\set VERBOSITY default
SELECT emu_do('reset');
CREATE SCHEMA camp;
SELECT emu_do('clear-calls');
IMPORT FOREIGN SCHEMA marketo LIMIT TO (smart_lists, smart_campaigns, programs, lead_smart_campaigns)
  FROM SERVER marketo INTO camp;
-- no describe call for any of them
SELECT count(*) AS calls FROM emu_rest_calls();
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('smart_lists', 'smart_campaigns')
  AND c.relnamespace = 'camp'::regnamespace AND a.attnum > 0
ORDER BY c.relname, a.attnum;

--
-- smart_lists
--
-- id =: smartList/{id}.json, the id in the path; folder is jsonb.
SELECT emu_do('clear-calls');
SELECT * FROM camp.smart_lists WHERE id = 5003;
SELECT n, method, path, query FROM emu_rest_calls() ORDER BY n;
SELECT folder->>'type' AS folder_type, (folder->>'id')::int AS folder_id
FROM camp.smart_lists WHERE id = 5004;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM camp.smart_lists WHERE id = 5003;

-- IN: one call per id, sent together; an id not found is "No assets found".
SELECT emu_do('clear-calls');
SELECT id, name FROM camp.smart_lists WHERE id IN (5001, 5002, 9999) ORDER BY id;
SELECT path, query FROM emu_rest_calls() ORDER BY path;

-- name =: byName.json, a name with a comma sent as it is.
SELECT emu_do('clear-calls');
SELECT id, name, workspace FROM camp.smart_lists WHERE name = 'EMEA, Tier 1';
SELECT id FROM camp.smart_lists WHERE name = 'No Such List';
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM camp.smart_lists WHERE name = 'EMEA, Tier 1';

-- Unfiltered: 205 lists, 200 a call by offset until a page is short.
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT id), min(id), max(id) FROM camp.smart_lists;
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM camp.smart_lists;

-- An updated_at range: earliestUpdatedAt/latestUpdatedAt; a range that
-- holds nothing is answered "No assets found".
SELECT emu_do('clear-calls');
SELECT id, name, updated_at FROM camp.smart_lists
WHERE updated_at >= '2024-02-01' AND updated_at < '2024-03-01' ORDER BY id;
SELECT id FROM camp.smart_lists WHERE updated_at > '2030-01-01';
SELECT n, path, query FROM emu_rest_calls() ORDER BY n;

-- Faults: a transient error is retried; Marketo's refusal is an error.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "error", "code": "611", "message": "System error", "path": "/rest/asset/v1/smartLists.json"}');
SELECT count(*) FROM camp.smart_lists;
SELECT n, query->>'offset' AS "offset", error_code FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('fault', '{"kind": "error", "code": "603", "message": "Access denied", "path": "/rest/asset/v1/smartList/"}');
SELECT id FROM camp.smart_lists WHERE id = 5001;
SELECT emu_do('clear-faults');
INSERT INTO camp.smart_lists (id, name) VALUES (1, 'x');

--
-- smart_campaigns
--
-- Unfiltered: every campaign, page by page by token.
SELECT emu_do('config', '{"page_size": 2}');
SELECT emu_do('clear-calls');
SELECT * FROM camp.smart_campaigns ORDER BY id;
SELECT n, path, query->>'batchSize' AS batch_size, query ? 'nextPageToken' AS has_token
FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM camp.smart_campaigns;

-- Each pushed column is its own query parameter, comma-separated values.
SELECT emu_do('clear-calls');
SELECT id, name FROM camp.smart_campaigns WHERE id IN (3678, 3703, 9999) ORDER BY id;
SELECT id, name FROM camp.smart_campaigns WHERE name = 'Monthly Newsletter';
SELECT id, program_name FROM camp.smart_campaigns WHERE program_name = 'Big Webinar' ORDER BY id;
SELECT id, workspace_name FROM camp.smart_campaigns WHERE workspace_name IN ('EMEA') ORDER BY id;
SELECT n, path, query - 'nextPageToken' AS query, query ? 'nextPageToken' AS has_token
FROM emu_rest_calls() ORDER BY n;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM camp.smart_campaigns WHERE program_name = 'Big Webinar';
SELECT emu_do('config', '{"page_size": 300}');

-- The campaigns of a lead, joined to their records.
SELECT emu_do('clear-calls');
SELECT c.id, c.name, c.type FROM camp.lead_smart_campaigns m
JOIN camp.smart_campaigns c ON c.id = m.smart_campaign_id
WHERE m.lead_id = 1001 ORDER BY c.id;
SELECT path, query - 'nextPageToken' AS query FROM emu_rest_calls() ORDER BY path, query->>'id';

-- Faults.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "error", "code": "611", "message": "System error", "path": "/rest/v1/campaigns.json"}');
SELECT count(*) FROM camp.smart_campaigns;
SELECT n, path, error_code FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('fault', '{"kind": "error", "code": "1003", "message": "Invalid id", "path": "/rest/v1/campaigns.json"}');
SELECT id FROM camp.smart_campaigns WHERE id = 3678;
SELECT emu_do('clear-faults');
DELETE FROM camp.smart_campaigns WHERE id = 3678;

--
-- marketo_trigger_campaign: 100 leads a call, every batch sent, the
-- tokens in each; it returns the number of leads sent.
--
SELECT emu_do('generate-leads', '{"count": 250, "from": "2024-06-01T00:00:00Z"}');
SELECT emu_do('clear-calls');
SELECT marketo_trigger_campaign('marketo', 3678,
                                (SELECT array_agg(i ORDER BY i) FROM generate_series(1013, 1262) AS i),
                                '{"{{my.greeting}}": "Hello", "{{my.offer}}": "10%"}');
SELECT n, method, path, jsonb_array_length(body->'input'->'leads') AS leads,
       body->'input'->'leads'->0 AS first, body->'input'->'leads'->-1 AS last,
       body->'input'->'tokens' AS tokens
FROM emu_rest_calls() ORDER BY n;
-- every lead was sent once, in order
SELECT count(*) AS leads, count(DISTINCT l->>'id') AS distinct_leads,
       bool_and((l->>'id')::int = 1012 + (c.n - 1) * 100 + o::int) AS in_order
FROM emu_rest_calls() AS c, jsonb_array_elements(c.body->'input'->'leads') WITH ORDINALITY AS e(l, o);
-- the leads are now members of the campaign
SELECT count(*) FROM camp.lead_smart_campaigns
WHERE lead_id IN (1013, 1112, 1113, 1212, 1213, 1262) AND smart_campaign_id = 3678;

-- Tokens as Marketo's own array; a single lead.
SELECT emu_do('clear-calls');
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001],
                                '[{"name": "{{my.greeting}}", "value": "Hi"}]');
SELECT n, path, body FROM emu_rest_calls() ORDER BY n;

-- No leads: no call.
SELECT emu_do('clear-calls');
SELECT marketo_trigger_campaign('marketo', 3678, '{}');
SELECT count(*) AS calls FROM emu_rest_calls();

-- A batch campaign, and an inactive trigger campaign, cannot be requested:
-- Marketo's 1003, with the hint.
SELECT marketo_trigger_campaign('marketo', 3701, ARRAY[1001, 1002]);
SELECT marketo_trigger_campaign('marketo', 3702, ARRAY[1001]);
-- No such campaign; no such lead.
SELECT marketo_trigger_campaign('marketo', 4242, ARRAY[1001]);
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001, 999999]);
-- The error of a later batch says what was already sent.
SELECT emu_do('clear-calls');
SELECT marketo_trigger_campaign('marketo', 3678,
                                (SELECT array_agg(i ORDER BY i) FROM generate_series(1013, 1212) AS i)
                                || ARRAY[999999]);
SELECT n, jsonb_array_length(body->'input'->'leads') AS leads, error_code FROM emu_rest_calls() ORDER BY n;
-- A transient error is not retried: the run may have started.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "error", "code": "611", "message": "System error", "path": "/rest/v1/campaigns/3678/trigger.json"}');
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001]);
SELECT n, path, error_code FROM emu_rest_calls() ORDER BY n;
SELECT emu_do('clear-faults');
-- Arguments checked before any call.
SELECT emu_do('clear-calls');
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001, NULL]);
SELECT marketo_trigger_campaign('marketo', 3678, NULL);
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001], '"x"');
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001], '[{"value": "x"}]');
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001], '{"{{my.x}}": {"a": 1}}');
SELECT count(*) AS calls FROM emu_rest_calls();
-- Only with USAGE on the server.
CREATE ROLE mkto_campaign_nobody;
SET ROLE mkto_campaign_nobody;
SELECT marketo_trigger_campaign('marketo', 3678, ARRAY[1001]);
SELECT marketo_schedule_campaign('marketo', 3701);
SELECT marketo_trigger_campaign('marketo', 3678, '{}');
RESET ROLE;
DROP ROLE mkto_campaign_nobody;
SELECT count(*) AS calls FROM emu_rest_calls();

--
-- marketo_schedule_campaign
--
-- Without run_at: Marketo runs it in five minutes; no runAt is sent.
SELECT emu_do('clear-calls');
SELECT marketo_schedule_campaign('marketo', 3701);
SELECT n, method, path, body FROM emu_rest_calls() ORDER BY n;
-- At run_at, in whole seconds (not before the time asked), with tokens
-- and a program to clone to.
SELECT emu_do('clear-calls');
SELECT marketo_schedule_campaign('marketo', 3746, '2027-03-01 10:15:00.25+00',
                                 '{"{{my.subject}}": "Thanks for coming"}', 'Webinar Follow-up (March)');
SELECT n, path, body FROM emu_rest_calls() ORDER BY n;
-- A trigger campaign cannot be scheduled; nor more than two years ahead.
SELECT marketo_schedule_campaign('marketo', 3678);
SELECT marketo_schedule_campaign('marketo', 3701, now() + interval '3 years');
SELECT marketo_schedule_campaign('marketo', 3701, 'infinity');

--
-- programs: the record's members no column maps, in extra.
--
SELECT id, extra FROM camp.programs WHERE id = 1044;
SELECT id, extra FROM camp.programs WHERE name = 'Quiet Program';
-- a column the table does not have goes to extra too
ALTER FOREIGN TABLE camp.programs DROP COLUMN url;
SELECT extra->>'url' AS url, extra ? 'headStart' AS has_head_start FROM camp.programs WHERE id = 1046;

--
-- The extension's update from 1.0: the new functions, the same objects as
-- a 1.1 created afresh.
--
SELECT extversion FROM pg_extension WHERE extname = 'marketo_fdw';
SELECT current_database() AS regress_db \gset
CREATE DATABASE campaigns_update;
\c campaigns_update
CREATE EXTENSION marketo_fdw VERSION '1.0';
SELECT to_regprocedure('marketo_trigger_campaign(text,integer,integer[],jsonb)') IS NULL AS missing;
ALTER EXTENSION marketo_fdw UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'marketo_fdw';
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'marketo_fdw')
ORDER BY 1;
SELECT pg_get_function_arguments('marketo_schedule_campaign'::regproc);
\c :regress_db
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'marketo_fdw')
ORDER BY 1;
DROP DATABASE campaigns_update;

DROP SCHEMA camp CASCADE;
SELECT emu_do('reset');

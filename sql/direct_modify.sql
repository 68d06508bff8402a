--
-- Direct UPDATE and DELETE by id: the statement goes straight to the sync
-- (updateOnly) or delete call, 300 ids a call, without reading first; the
-- row count is Marketo's per-record statuses, a "not found" being a row
-- the WHERE did not match.
--
SELECT emu_do('reset');
-- the leads as IMPORT makes them from the reset instance (sql/fields.sql
-- imported custom fields the reset removed)
DROP FOREIGN TABLE marketo.leads;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO marketo;
SELECT emu_do('add-leads', (SELECT json_agg(json_build_object(
    'id', 20000 + g, 'email', 'direct' || g || '@example.com', 'firstName', 'D' || g))
  FROM generate_series(1, 650) g)::text);

-- 700 ids, 50 of them unknown to Marketo: 3 writes, no read; UPDATE 650.
EXPLAIN (COSTS OFF)
UPDATE marketo.leads SET first_name = 'Direct', lead_score = 7
WHERE id = ANY (ARRAY(SELECT 20000 + g FROM generate_series(1, 700) g));
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET first_name = 'Direct', lead_score = 7
WHERE id = ANY (ARRAY(SELECT 20000 + g FROM generate_series(1, 700) g));
\echo rows :ROW_COUNT
SELECT n, method, path, body->>'action' AS action, body->>'lookupField' AS lookup_field,
       json_array_length((body->'input')::json) AS records,
       (body->'input'->0)::text AS first_record
FROM emu_rest_calls() ORDER BY n;
SELECT count(*) FILTER (WHERE first_name = 'Direct' AND lead_score = 7) AS updated,
       count(*) AS leads
FROM marketo.leads WHERE id BETWEEN 20001 AND 20700 AND id = ANY (ARRAY(SELECT 20000 + g FROM generate_series(1, 650) g));

-- The same statement read first, as marketo_fdw.enable_direct_modify off makes
-- it: 3 reads, then 3 writes of the 650 found.
SET marketo_fdw.enable_direct_modify = off;
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET first_name = 'Read first'
WHERE id = ANY (ARRAY(SELECT 20000 + g FROM generate_series(1, 700) g));
\echo rows :ROW_COUNT
SELECT method, path, count(*) AS calls FROM emu_rest_calls() GROUP BY 1, 2 ORDER BY 1, 2;
RESET marketo_fdw.enable_direct_modify;

-- IN lists, a single id, repeats and NULLs: each id sent once, in order.
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET last_name = 'In' WHERE id IN (20003, 20001, 20003, NULL, 99999999);
\echo rows :ROW_COUNT
SELECT n, body->'input' AS input FROM emu_rest_calls() ORDER BY n;
UPDATE marketo.leads SET last_name = 'One' WHERE id = 20002;
\echo rows :ROW_COUNT
UPDATE marketo.leads SET last_name = 'None' WHERE id = 99999998;
\echo rows :ROW_COUNT
-- an empty array matches nothing and calls nothing
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET last_name = 'Empty' WHERE id = ANY ('{}'::int[]);
\echo rows :ROW_COUNT
SELECT count(*) AS calls FROM emu_rest_calls();
SELECT id, last_name FROM marketo.leads WHERE id IN (20001, 20002, 20003) ORDER BY id;

-- A parameter, in a generic plan: still direct, 1 call.
PREPARE upd(int[], text) AS UPDATE marketo.leads SET last_name = $2 WHERE id = ANY ($1);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE upd('{20004,20005}', 'Prepared');
SELECT emu_do('clear-calls');
EXECUTE upd('{20004,20005,30000}', 'Prepared');
\echo rows :ROW_COUNT
SELECT n, method, path, body->'input' AS input FROM emu_rest_calls() ORDER BY n;
RESET plan_cache_mode;
DEALLOCATE upd;

-- EXPLAIN ANALYZE counts the records changed and the ids not found.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE marketo.leads SET last_name = 'Analyzed' WHERE id IN (20006, 20007, 40000);

-- Statements that need the records are read first, as before:
-- a SET from the old row, another condition, RETURNING, a volatile value.
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET last_name = first_name || '!' WHERE id IN (20008, 20009);
\echo rows :ROW_COUNT
UPDATE marketo.leads SET last_name = 'Both' WHERE id IN (20008, 20009) AND first_name = 'Direct';
UPDATE marketo.leads SET last_name = 'Ret' WHERE id = 20010 RETURNING id, last_name;
UPDATE marketo.leads SET lead_score = (random() * 0)::int WHERE id = 20011;
SELECT method, path, count(*) AS calls FROM emu_rest_calls() GROUP BY 1, 2 ORDER BY 1, 2;
EXPLAIN (COSTS OFF)
UPDATE marketo.leads SET last_name = first_name || '!' WHERE id IN (20008, 20009);

-- A row trigger needs the rows too.
CREATE FUNCTION direct_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.last_name := 'Trigger'; RETURN NEW; END $$;
CREATE TRIGGER direct_note BEFORE UPDATE ON marketo.leads FOR EACH ROW EXECUTE FUNCTION direct_note();
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET first_name = 'T' WHERE id = 20012;
SELECT method, path FROM emu_rest_calls() ORDER BY n;
DROP TRIGGER direct_note ON marketo.leads;
DROP FUNCTION direct_note();

-- Refusals come before any call, as for a read-first UPDATE.
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET created_at = now() WHERE id = 20013;
UPDATE marketo.leads SET id = 1 WHERE id = 20013;
SELECT count(*) AS calls FROM emu_rest_calls();

-- A skip that is not "not found" fails the statement, naming the row.
\set VERBOSITY default
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "POST", "kind": "record_skip", "index": 1, "code": "1006", "message": "Field \u0027leadScore\u0027 not found"}');
UPDATE marketo.leads SET lead_score = 1 WHERE id IN (20014, 20015, 20016);
SELECT emu_do('clear-faults');
\set VERBOSITY terse

-- DELETE: 300 ids a call, no read; the unknown ids are not counted.
EXPLAIN (COSTS OFF) DELETE FROM marketo.leads WHERE id IN (20001, 20002);
SELECT emu_do('clear-calls');
DELETE FROM marketo.leads
WHERE id = ANY (ARRAY(SELECT 20300 + g FROM generate_series(1, 400) g));
\echo rows :ROW_COUNT
SELECT n, method, path, json_array_length((body->'input')::json) AS records
FROM emu_rest_calls() ORDER BY n;
SELECT count(*) AS left_of_the_deleted FROM marketo.leads
WHERE id = ANY (ARRAY(SELECT 20300 + g FROM generate_series(1, 400) g));
DELETE FROM marketo.leads WHERE id = 20001;
\echo rows :ROW_COUNT
DELETE FROM marketo.leads WHERE id = 20001;
\echo rows :ROW_COUNT

-- Another object: opportunities by marketoGUID.
CREATE SCHEMA direct;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (opportunities) FROM SERVER marketo INTO direct;
INSERT INTO direct.opportunities (external_opportunity_id, name) VALUES ('DM-1', 'Direct one'), ('DM-2', 'Direct two');
CREATE TEMP TABLE dm_guids AS
  SELECT marketo_guid FROM direct.opportunities WHERE external_opportunity_id IN ('DM-1', 'DM-2');
SELECT emu_do('clear-calls');
DELETE FROM direct.opportunities WHERE marketo_guid = ANY (ARRAY(SELECT marketo_guid FROM dm_guids) || 'no-such-guid'::text);
\echo rows :ROW_COUNT
SELECT n, method, path, body->>'deleteBy' AS delete_by, json_array_length((body->'input')::json) AS records
FROM emu_rest_calls() ORDER BY n;
SELECT count(*) FROM direct.opportunities WHERE external_opportunity_id IN ('DM-1', 'DM-2');
DROP SCHEMA direct CASCADE;

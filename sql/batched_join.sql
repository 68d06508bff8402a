--
-- Batched join lookups (issue 11, item 1): a join of local rows to a
-- Marketo table sends the outer rows' distinct keys, 300 per call, not a
-- call per row, and gives exactly the rows SQL says.
--
SELECT emu_do('reset');
SELECT emu_do('config', '{"rate_limit": 100000}');
-- marketo_fdw's own window too (server-wide): calls of earlier test files
-- would leave too little room for a block's calls to go out together
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 1000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT emu_do('generate-leads', '{"count": 3000, "from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}');
CREATE SCHEMA bj;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, program_members) FROM SERVER marketo INTO bj;
-- a local copy of the leads, to compare with
CREATE TABLE bj.leads_copy AS
SELECT id, email, first_name, last_name FROM bj.leads
WHERE id = ANY (ARRAY(SELECT generate_series(1001, 4012)));
SELECT count(*) FROM bj.leads_copy;
-- 3,000 CRM contacts, each with a lead
CREATE TABLE bj.contacts (contact_id int PRIMARY KEY, email text, account text);
INSERT INTO bj.contacts
SELECT g, 'gen' || (1012 + g) || '@example.com', 'account ' || (g % 7) FROM generate_series(1, 3000) g;
ANALYZE bj.contacts;

-- The plan: the batched join, by cost.
EXPLAIN (COSTS OFF)
SELECT c.contact_id, l.id FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
SELECT emu_do('clear-calls');
CREATE TEMP TABLE joined AS
SELECT c.contact_id, l.id, l.first_name FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
SELECT count(*) AS calls, max(jsonb_array_length(to_jsonb(string_to_array(query->>'filterValues', ',')))) AS most_values
FROM emu_rest_calls();
SELECT count(*) FROM joined;
SELECT count(*) AS differences FROM (
  (SELECT * FROM joined EXCEPT ALL
   SELECT c.contact_id, l.id, l.first_name FROM bj.contacts c JOIN bj.leads_copy l ON l.email = c.email)
  UNION ALL
  (SELECT c.contact_id, l.id, l.first_name FROM bj.contacts c JOIN bj.leads_copy l ON l.email = c.email
   EXCEPT ALL SELECT * FROM joined)) d;

-- The same join without batching (marketo_fdw.enable_batched_join off) is
-- a call per contact: the budget stops it.
SET marketo_fdw.enable_batched_join = off;
EXPLAIN (COSTS OFF)
SELECT c.contact_id, l.id FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
RESET marketo_fdw.enable_batched_join;

-- LEFT JOIN, 10% of the contacts without a lead: null-extended.
UPDATE bj.contacts SET email = 'nobody' || contact_id || '@crm.example' WHERE contact_id <= 300;
EXPLAIN (COSTS OFF)
SELECT c.contact_id, l.id FROM bj.contacts c LEFT JOIN bj.leads l ON l.email = c.email;
SELECT emu_do('clear-calls');
CREATE TEMP TABLE left_joined AS
SELECT c.contact_id, l.id FROM bj.contacts c LEFT JOIN bj.leads l ON l.email = c.email;
SELECT count(*) AS calls FROM emu_rest_calls();
SELECT count(*) AS rows, count(id) AS matched FROM left_joined;
SELECT count(*) AS differences FROM (
  (SELECT * FROM left_joined EXCEPT ALL
   SELECT c.contact_id, l.id FROM bj.contacts c LEFT JOIN bj.leads_copy l ON l.email = c.email)
  UNION ALL
  (SELECT c.contact_id, l.id FROM bj.contacts c LEFT JOIN bj.leads_copy l ON l.email = c.email
   EXCEPT ALL SELECT * FROM left_joined)) d;

-- WHERE id IN (SELECT ...): the subquery's values made unique, then batched.
ALTER TABLE bj.contacts ADD COLUMN marketo_id int;
UPDATE bj.contacts SET marketo_id = 1012 + contact_id;
ANALYZE bj.contacts;
EXPLAIN (COSTS OFF)
SELECT id, email FROM bj.leads WHERE id IN (SELECT marketo_id FROM bj.contacts);
SELECT emu_do('clear-calls');
SELECT count(*), min(id), max(id), count(DISTINCT email) FROM bj.leads
WHERE id IN (SELECT marketo_id FROM bj.contacts);
SELECT count(*) AS calls, sum(array_length(string_to_array(query->>'filterValues', ','), 1)) AS values_sent
FROM emu_rest_calls();

-- EXISTS (semi join) and NOT EXISTS (anti join), the contacts kept.
EXPLAIN (COSTS OFF)
SELECT count(*) FROM bj.contacts c WHERE EXISTS (SELECT 1 FROM bj.leads l WHERE l.email = c.email);
SELECT emu_do('clear-calls');
SELECT count(*) FROM bj.contacts c WHERE EXISTS (SELECT 1 FROM bj.leads l WHERE l.email = c.email);
SELECT count(*) FROM bj.contacts c WHERE NOT EXISTS (SELECT 1 FROM bj.leads l WHERE l.email = c.email);
SELECT count(*) AS calls FROM emu_rest_calls();
EXPLAIN (COSTS OFF)
SELECT count(*) FROM bj.contacts c WHERE NOT EXISTS (SELECT 1 FROM bj.leads l WHERE l.email = c.email);

-- Duplicate and NULL keys, case variants, extra join conditions: a small
-- CRM table, checked row by row against the local copy.
CREATE TABLE bj.few (k int, email text, first_name text);
INSERT INTO bj.few VALUES
  (1, 'abe@usa.gov', 'Abraham'), (2, 'abe@usa.gov', 'Abraham'),   -- the same key twice
  (3, 'ABE@USA.GOV', 'Abraham'),                                  -- Marketo matches it, SQL does not
  (4, NULL, NULL),                                                -- matches nothing
  (5, 'george@usa.gov', 'Someone else'),                          -- fails the extra condition
  (6, 'gen1500@example.com', 'Gen'), (7, 'nobody@nowhere.example', 'No');
SELECT emu_do('clear-calls');
SELECT f.k, l.id, l.email FROM bj.few f JOIN bj.leads l ON l.email = f.email ORDER BY f.k;
SELECT count(*) AS calls, max(query->>'filterValues') AS values_sent FROM emu_rest_calls();
SELECT f.k, l.id FROM bj.few f LEFT JOIN bj.leads l ON l.email = f.email AND l.first_name = f.first_name
ORDER BY f.k;
SELECT f.k, l.id FROM bj.few f LEFT JOIN bj.leads_copy l ON l.email = f.email AND l.first_name = f.first_name
ORDER BY f.k;
SELECT f.k FROM bj.few f WHERE NOT EXISTS (SELECT FROM bj.leads l WHERE l.email = f.email) ORDER BY f.k;
-- a WHERE condition on the Marketo side of a LEFT JOIN applies after it
SELECT f.k, l.id FROM bj.few f LEFT JOIN bj.leads l ON l.email = f.email
WHERE l.id IS NULL ORDER BY f.k;
-- the Marketo table's own filter stays a filter of its scan
SELECT f.k, l.id FROM bj.few f JOIN bj.leads l ON l.email = f.email
WHERE l.first_name = 'Abraham' ORDER BY f.k;

-- LIMIT: the first block is one call's worth, so a LIMIT that is met
-- early stops after one call.
SELECT emu_do('clear-calls');
SELECT c.contact_id, l.id FROM bj.contacts c JOIN bj.leads l ON l.email = c.email
WHERE c.contact_id > 300 ORDER BY c.contact_id LIMIT 3;
SELECT count(*) AS calls FROM emu_rest_calls();
EXPLAIN (COSTS OFF)
SELECT c.contact_id, l.id FROM bj.contacts c JOIN bj.leads l ON l.email = c.email
WHERE c.contact_id > 300 ORDER BY c.contact_id LIMIT 3;
-- a cursor reads blocks as it is fetched from, each twice the last
BEGIN;
DECLARE cur CURSOR FOR
SELECT c.contact_id, l.id FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
SELECT emu_do('clear-calls');
FETCH 2 FROM cur;
SELECT count(*) AS calls FROM emu_rest_calls();
MOVE FORWARD 600 IN cur;
SELECT count(*) AS calls FROM emu_rest_calls();
MOVE FORWARD ALL IN cur;
SELECT count(*) AS calls FROM emu_rest_calls();
COMMIT;

-- Keys computed from two outer tables.
CREATE TABLE bj.domains (k int, domain text);
INSERT INTO bj.domains VALUES (1, 'usa.gov'), (2, 'example.com');
CREATE TABLE bj.names (k int, local_part text, dk int);
INSERT INTO bj.names VALUES (1, 'abe', 1), (2, 'george', 1), (3, 'gen1013', 2), (4, 'abe', 2);
SELECT emu_do('clear-calls');
EXPLAIN (COSTS OFF)
SELECT n.k, l.id FROM bj.names n JOIN bj.domains d ON d.k = n.dk
JOIN bj.leads l ON l.email = n.local_part || '@' || d.domain;
SELECT n.k, l.id FROM bj.names n JOIN bj.domains d ON d.k = n.dk
JOIN bj.leads l ON l.email = n.local_part || '@' || d.domain ORDER BY n.k;
SELECT count(*) AS calls FROM emu_rest_calls();

-- Rescans under an outer nested loop: records already read are not read
-- again while the Marketo side's own parameters stay the same.
SELECT emu_do('clear-calls');
SELECT v.part, s.n FROM (VALUES (0), (1), (2)) v(part),
LATERAL (SELECT count(l.id) AS n FROM bj.few f JOIN bj.leads l ON l.email = f.email
         WHERE f.k % 3 = v.part OFFSET 0) s ORDER BY 1;
-- parts 0, 1, 2: ABE@USA.GOV and gen1500; abe, nobody; abe (read) and george
SELECT n, query->>'filterValues' AS values_sent FROM emu_rest_calls();
SELECT emu_do('clear-calls');
SELECT v.part, s.n FROM (VALUES (10), (11), (12)) v(part),
LATERAL (SELECT count(l.id) AS n FROM bj.few f JOIN bj.leads l ON l.email = f.email
         WHERE f.k < v.part OFFSET 0) s ORDER BY 1;
SELECT count(*) AS calls FROM emu_rest_calls();

-- Another Marketo table as the outer side: a program's 1,500 members
-- joined to their leads, in 2 x ceil(1500/300) + 2 calls at most.
SELECT emu_do('add-members', '{"programId": 1047, "generate": 1500, "statusName": "Registered", "startLeadId": 1013}');
EXPLAIN (COSTS OFF)
SELECT m.lead_id, l.email FROM bj.program_members m JOIN bj.leads l ON l.id = m.lead_id
WHERE m.program_id = 1047;
SELECT emu_do('clear-calls');
SELECT count(*), count(DISTINCT l.email), min(l.id), max(l.id)
FROM bj.program_members m JOIN bj.leads l ON l.id = m.lead_id WHERE m.program_id = 1047;
SELECT count(*) AS calls, count(*) <= 2 * 5 + 2 AS within_target,
       count(*) FILTER (WHERE path = '/rest/v1/leads.json') AS lead_calls
FROM emu_rest_calls();

-- Parent keys: programs from a local table, each program's members read
-- in full, one call series per program, the programs' first calls together
-- (a repeated program is read once).
CREATE TABLE bj.campaign_programs (program_id int, label text);
INSERT INTO bj.campaign_programs VALUES (1044, 'a'), (1045, 'b'), (1046, 'c'), (1046, 'c again'), (1047, 'd');
ANALYZE bj.campaign_programs;
EXPLAIN (COSTS OFF)
SELECT p.label, count(m.lead_id) FROM bj.campaign_programs p
JOIN bj.program_members m ON m.program_id = p.program_id GROUP BY 1;
SELECT emu_do('clear-calls');
SELECT p.label, count(m.lead_id) FROM bj.campaign_programs p
JOIN bj.program_members m ON m.program_id = p.program_id GROUP BY 1 ORDER BY 1;
SELECT path, count(*) FROM emu_rest_calls() GROUP BY 1 ORDER BY 1;

-- A compound key (opportunity roles): batched on one of its searchable
-- fields, the others checked as join conditions.
IMPORT FOREIGN SCHEMA marketo LIMIT TO (opportunity_roles) FROM SERVER marketo INTO bj;
CREATE TABLE bj.deal_contacts (ext_id text, lead_id int, role text);
INSERT INTO bj.deal_contacts VALUES ('19UYA31581L000000', 1001, 'Decision Maker'),
  ('19UYA31581L000000', 1002, 'Influencer'), ('19UYA31581L000000', 1002, 'Nobody');
ANALYZE bj.deal_contacts;
EXPLAIN (COSTS OFF)
SELECT d.lead_id, d.role, r.marketo_guid FROM bj.deal_contacts d
JOIN bj.opportunity_roles r ON r.external_opportunity_id = d.ext_id AND r.lead_id = d.lead_id AND r.role = d.role;
SELECT emu_do('clear-calls');
SELECT d.lead_id, d.role, r.marketo_guid FROM bj.deal_contacts d
JOIN bj.opportunity_roles r ON r.external_opportunity_id = d.ext_id AND r.lead_id = d.lead_id AND r.role = d.role
ORDER BY 1, 2;
SELECT n, method, path, query->>'filterType' AS filter_type, query->>'filterValues' AS filter_values
FROM emu_rest_calls();

-- In a correlated subquery (a SubPlan run per outer row).
SELECT emu_do('clear-calls');
SELECT c.contact_id,
       (SELECT count(*) FROM bj.few f JOIN bj.leads l ON l.email = f.email WHERE f.k <= c.contact_id) AS n
FROM bj.contacts c WHERE c.contact_id <= 3 ORDER BY 1;
SELECT count(*) AS calls FROM emu_rest_calls();

-- UPDATE ... FROM and DELETE ... USING: the leads read in batches, then
-- written.
CREATE TABLE bj.renames (email text, new_name text);
INSERT INTO bj.renames SELECT 'gen' || g || '@example.com', 'Renamed ' || g FROM generate_series(2001, 2700) g;
INSERT INTO bj.renames VALUES ('nobody@nowhere.example', 'Nobody');
EXPLAIN (COSTS OFF)
UPDATE bj.leads l SET first_name = r.new_name FROM bj.renames r WHERE l.email = r.email;
SELECT emu_do('clear-calls');
UPDATE bj.leads l SET first_name = r.new_name FROM bj.renames r WHERE l.email = r.email;
SELECT method, path, count(*) FROM emu_rest_calls() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*), min(id), max(id) FROM bj.leads WHERE id = ANY (ARRAY(SELECT generate_series(1990, 2710)))
AND first_name LIKE 'Renamed %';
-- A write to a local table from Marketo's rows: batched too.  When a row
-- it is to change was changed meanwhile (EvalPlanQual), the pair is joined
-- again with the row's new version: here row 6's email changes from
-- gen1500@example.com to george@usa.gov while the update waits for it, so
-- the lead it was paired with no longer matches and row 6 is left alone.
CREATE TABLE bj.few_copy AS SELECT * FROM bj.few;
EXPLAIN (COSTS OFF)
UPDATE bj.few_copy f SET first_name = l.last_name FROM bj.leads l WHERE l.email = f.email;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT dblink_connect('e1', self_conn()), dblink_connect('e2', self_conn());
SELECT dblink_exec('e1', 'BEGIN');
SELECT dblink_exec('e1', 'UPDATE bj.few_copy SET email = ''george@usa.gov'' WHERE k = 6');
SELECT dblink_send_query('e2', 'UPDATE bj.few_copy f SET first_name = l.last_name FROM bj.leads l WHERE l.email = f.email');
SELECT pg_sleep(1);
SELECT dblink_exec('e1', 'COMMIT');
SELECT * FROM dblink_get_result('e2') AS t(status text);
SELECT count(*) AS rest FROM dblink_get_result('e2') AS t(status text);
SELECT k, email, first_name FROM bj.few_copy ORDER BY k;
-- the same under FOR UPDATE: the changed row is joined again
EXPLAIN (COSTS OFF)
SELECT f.k, l.id FROM bj.few_copy f JOIN bj.leads l ON l.email = f.email FOR UPDATE OF f;
SELECT dblink_exec('e1', 'BEGIN');
SELECT dblink_exec('e1', 'UPDATE bj.few_copy SET email = ''nobody@nowhere.example'' WHERE k = 5');
SELECT dblink_send_query('e2', 'SELECT f.k, l.id FROM bj.few_copy f JOIN bj.leads l ON l.email = f.email ORDER BY f.k FOR UPDATE OF f');
SELECT pg_sleep(1);
SELECT dblink_exec('e1', 'COMMIT');
SELECT * FROM dblink_get_result('e2') AS t(k int, id int);
SELECT count(*) AS rest FROM dblink_get_result('e2') AS t(k int, id int);
SELECT dblink_disconnect('e1'), dblink_disconnect('e2');
CREATE TABLE bj.gone (email text);
INSERT INTO bj.gone SELECT 'gen' || g || '@example.com' FROM generate_series(3901, 4012) g;
SELECT emu_do('clear-calls');
DELETE FROM bj.leads l USING bj.gone g WHERE l.email = g.email;
SELECT method, path, count(*) FROM emu_rest_calls() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FROM bj.leads WHERE id BETWEEN 3889 AND 4012 AND id = ANY (ARRAY(SELECT generate_series(3889, 4012)));

-- The calls of a block go out together (item 2): under 0.5 s latency the
-- 10 calls of 3,000 contacts all start before the first answer.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 0.5, "count": 10}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
SELECT count(*) AS calls, count(*) FILTER (WHERE started < 0.4) AS started_together
FROM (SELECT (j->>'time')::float - min((j->>'time')::float) OVER () AS started
      FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) x
      WHERE j->>'path' = '/rest/v1/leads.json') s;
SELECT emu_do('clear-faults');

-- EXPLAIN ANALYZE: batches and keys sent.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM bj.few f JOIN bj.leads l ON l.email = f.email;

-- The budget prices the join by its batches: 3,000 contacts plan 10
-- calls, within the default budget; at run time it stops as usual.
SET marketo_fdw.max_calls_per_statement = 5;
SELECT count(*) FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
RESET marketo_fdw.max_calls_per_statement;

-- Cancel: statement_timeout while a block's calls hang.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "GET", "kind": "slow", "seconds": 4, "count": 10}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
SET statement_timeout = '1s';
SELECT count(*) FROM bj.contacts c JOIN bj.leads l ON l.email = c.email;
RESET statement_timeout;
SELECT clock_timestamp() - t < interval '2.5 s' AS prompt FROM started;
SELECT coalesce(sum(in_flight), 0) AS in_flight FROM marketo_call_stats() WHERE scope <> 'backend';
SELECT emu_do('clear-faults');
-- the emulator's hanging answers end before the next test file starts
SELECT pg_sleep(3);
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();

--
-- Write batching across the statements of a transaction (write_batching
-- 'transaction', the default): the rows of INSERT, UPDATE and DELETE
-- statements wait, per table and action, until 300 are pending, a later
-- statement reads the instance or writes to it through another table or
-- action, or the transaction commits.  ROLLBACK drops what was not sent.
--
\set VERBOSITY default
SELECT emu_do('reset');
SET client_min_messages = warning;
DROP FOREIGN TABLE IF EXISTS marketo.leads, marketo.list_members;
RESET client_min_messages;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, list_members) FROM SERVER marketo INTO marketo;
SELECT emu_do('add-leads', '[{"id": 9801, "email": "wb.old1@example.com", "firstName": "Old1"},
                             {"id": 9802, "email": "wb.old2@example.com", "firstName": "Old2"},
                             {"id": 9803, "email": "wb.old3@example.com", "firstName": "Old3"}]');

-- Five single-row INSERTs in a transaction: nothing sent before COMMIT,
-- then one call with the five records; each statement's tag counts its row.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email, first_name) VALUES ('wb1@example.com', 'W1');
\echo rows :ROW_COUNT
INSERT INTO marketo.leads (email, first_name) VALUES ('wb2@example.com', 'W2');
INSERT INTO marketo.leads (email, first_name) VALUES ('wb3@example.com', 'W3');
INSERT INTO marketo.leads (email, first_name) VALUES ('wb4@example.com', 'W4'), ('wb5@example.com', 'W5');
\echo rows :ROW_COUNT
SELECT count(*) AS calls_before_commit FROM emu_rest_calls();
COMMIT;
SELECT n, method, path, body->>'action' AS action,
       jsonb_path_query_array(body, '$.input[*].email') AS emails
FROM emu_rest_calls() ORDER BY n;

-- The same five in a multi-statement query string (one implicit
-- transaction): one call.
SELECT emu_do('clear-calls');
INSERT INTO marketo.leads (email) VALUES ('wb6@example.com')\; INSERT INTO marketo.leads (email) VALUES ('wb7@example.com')\; INSERT INTO marketo.leads (email) VALUES ('wb8@example.com');
SELECT n, path, jsonb_path_query_array(body, '$.input[*].email') AS emails
FROM emu_rest_calls() ORDER BY n;

-- Read-your-writes: a SELECT in the transaction sends the pending rows
-- first, then reads them.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email, first_name) VALUES ('wb9@example.com', 'W9');
INSERT INTO marketo.leads (email, first_name) VALUES ('wb10@example.com', 'W10');
SELECT email, first_name FROM marketo.leads WHERE email IN ('wb9@example.com', 'wb10@example.com') ORDER BY email;
SELECT n, method, path, json_array_length((body->'input')::json) AS records
FROM emu_rest_calls() ORDER BY n;
COMMIT;
SELECT count(*) AS calls_after_commit FROM emu_rest_calls();

-- ... and so does a join to local rows (the batched join): its Marketo
-- side begins by sending the pending rows.
CREATE TABLE wb_contacts (email text);
INSERT INTO wb_contacts SELECT 'wbjoin' || g || '@example.com' FROM generate_series(1, 50) g;
ANALYZE wb_contacts;
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email, first_name) VALUES ('wbjoin7@example.com', 'Joined');
EXPLAIN (COSTS OFF) SELECT c.email, l.first_name FROM wb_contacts c JOIN marketo.leads l ON l.email = c.email;
SELECT c.email, l.first_name FROM wb_contacts c JOIN marketo.leads l ON l.email = c.email;
SELECT n, method, path FROM emu_rest_calls() ORDER BY n;
COMMIT;
DROP TABLE wb_contacts;

-- UPDATE and DELETE are held too: the scan each needs is a read, which
-- sends what an earlier statement left pending; the last goes at COMMIT.
SELECT emu_do('clear-calls');
BEGIN;
UPDATE marketo.leads SET first_name = 'Upd' WHERE email = 'wb1@example.com';
\echo rows :ROW_COUNT
DELETE FROM marketo.leads WHERE email = 'wb2@example.com';
\echo rows :ROW_COUNT
SELECT n, method, path, body->>'action' AS action FROM emu_rest_calls() ORDER BY n;
COMMIT;
SELECT n, method, path, body->'input' AS input FROM emu_rest_calls() WHERE n > 3 ORDER BY n;
SELECT email, first_name FROM marketo.leads WHERE email IN ('wb1@example.com', 'wb2@example.com');

-- Across statements, 300 pending rows go at once: 200 + 150 rows are one
-- call of 300 during the second INSERT, and 50 at COMMIT.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) SELECT 'wbmany' || g || '@example.com' FROM generate_series(1, 200) g;
\echo rows :ROW_COUNT
INSERT INTO marketo.leads (email) SELECT 'wbmany' || g || '@example.com' FROM generate_series(201, 350) g;
\echo rows :ROW_COUNT
SELECT n, json_array_length((body->'input')::json) AS records FROM emu_rest_calls() ORDER BY n;
COMMIT;
SELECT n, json_array_length((body->'input')::json) AS records,
       body->'input'->0->>'email' AS first, body->'input'->-1->>'email' AS last
FROM emu_rest_calls() ORDER BY n;

-- Order across tables: a write through another table sends what is
-- pending first, so the lead exists before it is added to a list.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wblist@example.com');
INSERT INTO marketo.list_members (list_id, id) VALUES (1002, 9801);
SELECT n, method, path FROM emu_rest_calls() ORDER BY n;
INSERT INTO marketo.leads (email) VALUES ('wblist2@example.com');
COMMIT;
SELECT n, method, path, body->'input' AS input FROM emu_rest_calls() ORDER BY n;

-- ROLLBACK drops the rows not yet sent: nothing reaches Marketo.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbgone1@example.com');
INSERT INTO marketo.leads (email) VALUES ('wbgone2@example.com');
ROLLBACK;
BEGIN;
UPDATE marketo.leads SET first_name = 'Never' WHERE email = 'wb.old3@example.com';
ROLLBACK;
BEGIN;
DELETE FROM marketo.list_members WHERE list_id = 1002 AND id = 9801;
ROLLBACK;
SELECT n, method, path FROM emu_rest_calls() ORDER BY n;
SELECT email, first_name FROM marketo.leads
WHERE email IN ('wbgone1@example.com', 'wbgone2@example.com', 'wb.old3@example.com');
SELECT id FROM marketo.list_members WHERE list_id = 1002 AND id = 9801;

-- ROLLBACK TO SAVEPOINT drops the rows buffered after the savepoint; a
-- released savepoint's rows stay.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbsp1@example.com');
SAVEPOINT a;
INSERT INTO marketo.leads (email) VALUES ('wbsp2@example.com');
SAVEPOINT b;
INSERT INTO marketo.leads (email) VALUES ('wbsp3@example.com');
RELEASE SAVEPOINT b;
ROLLBACK TO SAVEPOINT a;
SAVEPOINT c;
INSERT INTO marketo.leads (email) VALUES ('wbsp4@example.com');
RELEASE SAVEPOINT c;
COMMIT;
SELECT n, path, jsonb_path_query_array(body, '$.input[*].email') AS emails
FROM emu_rest_calls() ORDER BY n;

-- A skip found at COMMIT fails the COMMIT, naming the statement and its
-- row, and saying what Marketo applied; the transaction's local changes
-- roll back with it.
CREATE TABLE wb_local (note text);
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO wb_local VALUES ('kept only if the COMMIT succeeds');
INSERT INTO marketo.leads (email) VALUES ('wbok1@example.com');
INSERT INTO marketo.leads (email) VALUES ('wbok2@example.com'), ('wb.old1@example.com'), ('wbok3@example.com');
COMMIT;
SELECT count(*) AS local_rows FROM wb_local;
SELECT n, json_array_length((body->'input')::json) AS records FROM emu_rest_calls() ORDER BY n;
SELECT email FROM marketo.leads WHERE email IN ('wbok1@example.com', 'wbok2@example.com', 'wbok3@example.com') ORDER BY email;

-- A call Marketo refuses whole at COMMIT: the error says which rows the
-- call carried.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "POST", "kind": "error", "code": "1003", "message": "Invalid data"}');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbrefused1@example.com');
INSERT INTO marketo.leads (email) VALUES ('wbrefused2@example.com'), ('wbrefused3@example.com');
COMMIT;
SELECT emu_do('clear-faults');
SELECT n, error_code, json_array_length((body->'input')::json) AS records FROM emu_rest_calls() ORDER BY n;

-- A send that fails inside a savepoint (here, before a read) leaves the
-- transaction unable to commit, even after ROLLBACK TO SAVEPOINT: part of
-- what was sent may be applied.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wb.old2@example.com');
SAVEPOINT s;
SELECT id FROM marketo.leads WHERE id = 9801;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) AS calls FROM emu_rest_calls();

-- RETURNING needs each row's id at once: sent by the statement.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbret@example.com') RETURNING id > 0 AS got_id;
SELECT count(*) AS calls_before_commit FROM emu_rest_calls();
COMMIT;

-- ON CONFLICT DO NOTHING reports the rows Marketo already had: sent by
-- the statement, whose count and NOTICE are exact.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wb.old3@example.com'), ('wbnew@example.com') ON CONFLICT DO NOTHING;
\echo rows :ROW_COUNT
SELECT count(*) AS calls_before_commit FROM emu_rest_calls();
COMMIT;

-- A direct UPDATE by id takes its row count from Marketo: not buffered, it
-- sends what is pending first, then itself.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbdirect@example.com');
UPDATE marketo.leads SET last_name = 'Direct' WHERE id IN (9801, 99999);
\echo rows :ROW_COUNT
SELECT n, path, body->>'action' AS action FROM emu_rest_calls() ORDER BY n;
COMMIT;

-- A lead action sends what is pending first.
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbaction@example.com');
SELECT marketo_associate_lead('marketo', 9801, 'wb-cookie') IS NOT NULL AS associated;
SELECT n, path FROM emu_rest_calls() ORDER BY n;
COMMIT;

-- write_batching 'statement' (server or table; the table's wins): each
-- statement sends its own rows, as before, and they stay in Marketo even
-- if the transaction rolls back.
ALTER FOREIGN TABLE marketo.leads OPTIONS (ADD write_batching 'statement');
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbst1@example.com');
INSERT INTO marketo.leads (email) VALUES ('wbst2@example.com');
SELECT count(*) AS calls_before_rollback FROM emu_rest_calls();
ROLLBACK;
SELECT email FROM marketo.leads WHERE email IN ('wbst1@example.com', 'wbst2@example.com') ORDER BY email;
-- ... and its errors come from the statement itself.
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wb.old1@example.com');
ROLLBACK;
ALTER FOREIGN TABLE marketo.leads OPTIONS (DROP write_batching);
ALTER SERVER marketo OPTIONS (ADD write_batching 'statement');
ALTER FOREIGN TABLE marketo.leads OPTIONS (ADD write_batching 'transaction');
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbsv1@example.com');
INSERT INTO marketo.list_members (list_id, id) VALUES (1002, 9802);
SELECT n, path FROM emu_rest_calls() ORDER BY n;
COMMIT;
ALTER FOREIGN TABLE marketo.leads OPTIONS (DROP write_batching);
ALTER SERVER marketo OPTIONS (DROP write_batching);
ALTER SERVER marketo OPTIONS (ADD write_batching 'never');
ALTER FOREIGN TABLE marketo.leads OPTIONS (ADD write_batching 'each');

-- PREPARE TRANSACTION with rows pending is refused: Marketo has no
-- two-phase commit.
BEGIN;
INSERT INTO marketo.leads (email) VALUES ('wbprep@example.com');
PREPARE TRANSACTION 'wb';
SELECT count(*) AS calls FROM emu_rest_calls() WHERE body::text LIKE '%wbprep%';

-- A foreign table dropped with rows still buffered: COMMIT fails, nothing
-- was sent, and the DROP rolls back with the rest.
CREATE FOREIGN TABLE wb_dropped (email text) SERVER marketo OPTIONS (object 'leads');
SELECT emu_do('clear-calls');
BEGIN;
INSERT INTO wb_dropped (email) VALUES ('wbdrop@example.com');
DROP FOREIGN TABLE wb_dropped;
COMMIT;
SELECT count(*) AS calls FROM emu_rest_calls();
SELECT count(*) AS table_still_there FROM pg_class WHERE relname = 'wb_dropped';
DROP FOREIGN TABLE wb_dropped;

DROP TABLE wb_local;

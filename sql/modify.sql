--
-- Writes: INSERT, UPDATE and DELETE as batched sync and delete calls, with
-- the calls asserted from the emulator's log.
--
SELECT emu_do('reset');
SELECT emu_do('add-leads', '[
 {"id": 9101, "email": "eve@example.com", "firstName": "Eve", "lastName": "Stone", "customerTier": 5},
 {"id": 9102, "email": "finn@example.com", "firstName": "Finn", "lastName": "Ray", "customerTier": 5},
 {"id": 9103, "email": "gus@example.com", "firstName": "Gus", "lastName": "Hale", "customerTier": 5}
]');
SELECT emu_do('clear-calls');

-- One row: createOnly by email, the NULL column left out of the record.
INSERT INTO marketo.leads (email, first_name, last_name, lead_score, unsubscribed,
                           date_of_birth, annual_revenue)
VALUES ('hana@example.com', 'Hana', NULL, 12, true, '1985-12-31', 99.95);
SELECT n, method, path, body->>'action' AS action, body->>'lookupField' AS lookup_field,
       body->'input' AS input
FROM emu_rest_calls();
SELECT first_name, last_name, lead_score, unsubscribed, date_of_birth, annual_revenue
FROM marketo.leads WHERE email = 'hana@example.com';

-- RETURNING id gives Marketo's ids.
INSERT INTO marketo.leads (email, first_name) VALUES ('ivy@example.com', 'Ivy') RETURNING id > 0 AS got_id, email;

-- INSERT ... SELECT goes in batches of 300: 650 rows, 3 calls.
SELECT emu_do('clear-calls');
INSERT INTO marketo.leads (email, first_name, customer_tier)
SELECT 'bulk' || g || '@example.org', 'Bulk ' || g, 7 FROM generate_series(1, 650) g;
SELECT n, body->>'action' AS action, json_array_length((body->'input')::json) AS records
FROM emu_rest_calls();
SELECT count(*) FROM marketo.leads
WHERE email = ANY (ARRAY(SELECT 'bulk' || g || '@example.org' FROM generate_series(1, 650) g));

-- The batch_size option.
ALTER FOREIGN TABLE marketo.leads OPTIONS (ADD batch_size '2');
SELECT emu_do('clear-calls');
INSERT INTO marketo.leads (email) VALUES ('b1@example.net'), ('b2@example.net'), ('b3@example.net');
SELECT n, json_array_length((body->'input')::json) AS records FROM emu_rest_calls();

-- A skipped record fails the statement, saying what Marketo already applied.
\set VERBOSITY default
INSERT INTO marketo.leads (email, first_name)
VALUES ('new1@example.net', 'A'), ('new2@example.net', 'B'), ('eve@example.com', 'C');
ALTER FOREIGN TABLE marketo.leads OPTIONS (DROP batch_size);

-- createOrUpdate updates the existing lead instead.
ALTER FOREIGN TABLE marketo.leads OPTIONS (ADD insert_action 'createOrUpdate');
SELECT emu_do('clear-calls');
INSERT INTO marketo.leads (email, first_name) VALUES ('eve@example.com', 'Evelyn');
SELECT body->>'action' AS action, body->'input' AS input FROM emu_rest_calls();
SELECT id, first_name, last_name FROM marketo.leads WHERE email = 'eve@example.com';
ALTER FOREIGN TABLE marketo.leads OPTIONS (DROP insert_action);

-- Refused before anything is sent.
SELECT emu_do('clear-calls');
INSERT INTO marketo.leads (first_name) VALUES ('No email');
INSERT INTO marketo.leads (email, created_at) VALUES ('x@example.com', now());
UPDATE marketo.leads SET id = 1 WHERE id = 9101;
SELECT count(*) AS calls FROM emu_rest_calls();

-- UPDATE: updateOnly by id, only the columns SET names, one call for all rows.
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET last_name = upper(last_name), lead_score = 50 WHERE customer_tier = 5;
SELECT n, method, path, body->>'action' AS action, body->>'lookupField' AS lookup_field,
       body->'input' AS input
FROM emu_rest_calls();
SELECT id, first_name, last_name, lead_score FROM marketo.leads WHERE customer_tier = 5 ORDER BY id;

-- SET col = NULL sends null; RETURNING works.
SELECT emu_do('clear-calls');
UPDATE marketo.leads SET last_name = NULL WHERE id = 9103 RETURNING id, last_name;
SELECT body->'input' AS input FROM emu_rest_calls() WHERE method = 'POST';
SELECT id, last_name FROM marketo.leads WHERE id = 9103;

-- UPDATE of a lead Marketo no longer has, though the statement read it:
-- 1004 fails the statement.  (By id alone, sent without a read, it is a
-- row the WHERE did not match: sql/direct_modify.sql.)
SET marketo_fdw.enable_direct_modify = off;
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "POST", "kind": "record_skip", "index": 0, "code": "1004", "message": "Lead not found"}');
UPDATE marketo.leads SET first_name = 'Gone' WHERE id = 9102;
SELECT emu_do('clear-faults');
RESET marketo_fdw.enable_direct_modify;

-- DELETE: leads/delete.json by id, batched.
SELECT emu_do('clear-calls');
DELETE FROM marketo.leads WHERE email IN ('b1@example.net', 'b2@example.net', 'b3@example.net');
SELECT n, method, path, body FROM emu_rest_calls() WHERE method = 'POST';
SELECT count(*) FROM marketo.leads WHERE email IN ('b1@example.net', 'b2@example.net', 'b3@example.net');

SELECT emu_do('clear-calls');
DELETE FROM marketo.leads WHERE customer_tier = 7;
SELECT n, path, json_array_length((body->'input')::json) AS ids FROM emu_rest_calls() WHERE method = 'POST';
SELECT count(*) AS left_in_tier_7 FROM marketo.leads WHERE customer_tier = 7;

-- A DELETE Marketo skips fails the statement too, when it read the row.
SET marketo_fdw.enable_direct_modify = off;
SELECT emu_do('fault', '{"path": "/rest/v1/leads/delete.json", "kind": "record_skip", "index": 0, "code": "1004", "message": "Lead not found"}');
DELETE FROM marketo.leads WHERE id = 9103;
SELECT emu_do('clear-faults');
RESET marketo_fdw.enable_direct_modify;

-- UPDATE and DELETE need the id column.
CREATE FOREIGN TABLE leads_no_id (email text) SERVER marketo OPTIONS (object 'leads');
DELETE FROM leads_no_id WHERE email = 'eve@example.com';
DROP FOREIGN TABLE leads_no_id;

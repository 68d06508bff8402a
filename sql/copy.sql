--
-- COPY FROM into a Marketo table: the rows go out in batches of 300, as an
-- INSERT's do, with the same checks.
--
\set VERBOSITY default
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA cp;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO cp;
SET client_min_messages = notice;

-- 700 rows: three calls of 300, 300 and 100 records.
SELECT emu_do('clear-calls');
COPY cp.leads (email, first_name) FROM PROGRAM 'seq -f "copy%g@example.com,Copy" 1 700' WITH (FORMAT csv);
SELECT n, method, path, body->>'action' AS action, body->>'lookupField' AS lookup_field,
       jsonb_array_length(body->'input') AS records, body->'input'->0 AS first_record
FROM emu_rest_calls();
SELECT count(*) AS created, count(*) FILTER (WHERE first_name = 'Copy') AS named
FROM cp.leads
WHERE email = ANY (ARRAY(SELECT 'copy' || g || '@example.com' FROM generate_series(1, 700) g));

-- Inline data; NULLs are left out of the record.
SELECT emu_do('clear-calls');
COPY cp.leads (email, first_name, last_name) FROM stdin;
ines@example.com	Inês	\N
\.
SELECT body->'input' AS input FROM emu_rest_calls() WHERE method = 'POST';

-- A read-only column cannot be copied into, and nothing is sent.
SELECT emu_do('clear-calls');
COPY cp.leads (id, email) FROM stdin;
77	ro@example.com
\.
SELECT count(*) AS calls FROM emu_rest_calls();

-- Values are checked as for INSERT, naming the COPY line.
COPY cp.leads (email) FROM stdin;
ok@example.com
zoë@example.com
\.
SELECT count(*) AS calls FROM emu_rest_calls();

-- A record Marketo skips fails the COPY, saying what was already applied.
COPY cp.leads (email, first_name) FROM stdin;
new1@example.com	New
ines@example.com	Again
\.

-- Rows routed to a partition that is a Marketo table: one call for the
-- batch, each record sent once.
CREATE TABLE cp.contacts (email text, first_name text, lead_source text) PARTITION BY LIST (lead_source);
CREATE FOREIGN TABLE cp.contacts_mkto PARTITION OF cp.contacts FOR VALUES IN ('Webinar')
  SERVER marketo OPTIONS (object 'leads', insert_action 'createOrUpdate');
ALTER FOREIGN TABLE cp.contacts_mkto ALTER COLUMN first_name OPTIONS (ADD field 'firstName'),
  ALTER COLUMN lead_source OPTIONS (ADD field 'leadSource');
CREATE TABLE cp.contacts_local PARTITION OF cp.contacts DEFAULT;
SELECT emu_do('clear-calls');
INSERT INTO cp.contacts VALUES ('part1@example.com', 'P1', 'Trade show'),
  ('part2@example.com', 'P2', 'Webinar'), ('part3@example.com', 'P3', 'Webinar');
COPY cp.contacts FROM stdin;
part4@example.com	P4	Webinar
part5@example.com	P5	Print
\.
SELECT n, body->'input' AS input FROM emu_rest_calls() WHERE method = 'POST';
SELECT email FROM cp.contacts_local ORDER BY 1;

-- INSERT ... ON CONFLICT DO NOTHING creates the new records and leaves the
-- existing ones alone: createOnly, with Marketo's "already exists" skips
-- counted, even where the table's insert_action is createOrUpdate.
ALTER FOREIGN TABLE cp.leads OPTIONS (ADD insert_action 'createOrUpdate');
SELECT emu_do('clear-calls');
INSERT INTO cp.leads (email, first_name)
VALUES ('ines@example.com', 'Changed'), ('fresh@example.com', 'Fresh'), ('new1@example.com', 'Changed')
ON CONFLICT DO NOTHING;
SELECT body->>'action' AS action, jsonb_array_length(body->'input') AS records
FROM emu_rest_calls() WHERE method = 'POST';
SELECT email, first_name FROM cp.leads
WHERE email IN ('ines@example.com', 'fresh@example.com', 'new1@example.com') ORDER BY 1;
-- With RETURNING (one row a call), the rows Marketo already had are not
-- returned or counted, as with a local table.
INSERT INTO cp.leads (email, first_name)
VALUES ('fresh@example.com', 'Again'), ('fresher@example.com', 'Fresher')
ON CONFLICT DO NOTHING RETURNING email;
-- Other skips still fail the statement.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "POST", "kind": "record_skip", "index": 0, "code": "1003", "message": "Invalid email"}');
INSERT INTO cp.leads (email) VALUES ('other@example.com') ON CONFLICT DO NOTHING;
ALTER FOREIGN TABLE cp.leads OPTIONS (DROP insert_action);

-- Marketo refuses request bodies over 1 MB: a batch that would be larger
-- is split in halves until each call fits (300 records of 25,000
-- characters: 8 calls).
SELECT emu_do('clear-calls');
INSERT INTO cp.leads (email, notes)
SELECT 'big' || g || '@example.com', repeat('n', 25000) FROM generate_series(1, 300) g;
SELECT count(*) AS calls, sum(jsonb_array_length(body->'input')) AS records,
       max(jsonb_array_length(body->'input')) AS most_in_a_call,
       max(length(body::text)) < 1024 * 1024 AS all_under_1mb,
       count(*) FILTER (WHERE http_status <> 200) AS refused
FROM emu_calls() WHERE method = 'POST' AND path = '/rest/v1/leads.json';
SELECT count(*) AS stored FROM cp.leads
WHERE email = ANY (ARRAY(SELECT 'big' || g || '@example.com' FROM generate_series(1, 300) g))
  AND length(notes) = 25000;

SET client_min_messages = warning;
DROP SCHEMA cp CASCADE;

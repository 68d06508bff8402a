--
-- Batched join lookups (issue 11, item 1): a join of local rows to a
-- Marketo table sends the outer rows' distinct keys, 300 per call, not a
-- call per row, and gives exactly the rows SQL says.
--
SELECT emu_do('reset');
SELECT emu_do('config', '{"rate_limit": 100000}');
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

--
-- Writes that lost data or sent the wrong thing (issue 9, items 1-6 and the
-- write part of 14), each asserted from the emulator's call log.
--
\set VERBOSITY default
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA wd;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO wd;
SET client_min_messages = notice;

-- The writes a statement sent, in order.
CREATE FUNCTION wd.writes() RETURNS TABLE (n bigint, method text, path text, action text,
                                            input jsonb, http_status int)
LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY n), method, path, body->>'action', body->'input', http_status
  FROM emu_rest_calls() WHERE method <> 'GET' ORDER BY n
$$;

--
-- 1. An UPDATE that moves rows into a Marketo partition it also updates
-- is refused, and nothing is sent or lost.
--
CREATE TABLE wd.contacts (id integer, email text, first_name text, src text) PARTITION BY LIST (src);
CREATE FOREIGN TABLE wd.contacts_mk PARTITION OF wd.contacts FOR VALUES IN ('mk')
  SERVER marketo OPTIONS (object 'leads', insert_action 'createOrUpdate');
ALTER FOREIGN TABLE wd.contacts_mk ALTER COLUMN first_name OPTIONS (ADD field 'firstName'),
  ALTER COLUMN src OPTIONS (ADD field 'leadSource');
CREATE TABLE wd.contacts_local PARTITION OF wd.contacts DEFAULT;
SELECT emu_do('add-leads', '[{"id": 9301, "email": "mara@example.com", "firstName": "Mara", "leadSource": "mk"}]');
INSERT INTO wd.contacts_local VALUES (NULL, 'lou@example.com', 'Lou', 'local');
SELECT emu_do('clear-calls');
UPDATE wd.contacts SET src = 'mk', first_name = first_name || '!'
WHERE email IN ('mara@example.com', 'lou@example.com');
SELECT * FROM wd.writes();
SELECT * FROM wd.contacts_local;
SELECT email, first_name, src FROM wd.contacts_mk WHERE email = 'mara@example.com';
-- Moving rows into the Marketo partition alone works: one call per row.
UPDATE wd.contacts SET src = 'mk', first_name = first_name || '!'
WHERE src = 'local' AND email = 'lou@example.com';
SELECT * FROM wd.writes();
SELECT count(*) AS left_locally FROM wd.contacts_local;
SELECT email, first_name, src FROM wd.contacts_mk WHERE email = 'lou@example.com';

--
-- 2. The final row is sent: column DEFAULTs and BEFORE ROW trigger changes
-- reach Marketo, for INSERT, COPY, routed rows and UPDATE alike.
--
CREATE FOREIGN TABLE wd.signups (
  id integer OPTIONS (field 'id', read_only 'true'),
  email text OPTIONS (field 'email'),
  first_name text OPTIONS (field 'firstName'),
  last_name text OPTIONS (field 'lastName'),
  lead_source text OPTIONS (field 'leadSource') DEFAULT 'Signup form',
  lead_score integer OPTIONS (field 'leadScore')
) SERVER marketo OPTIONS (object 'leads');
CREATE FUNCTION wd.score_signup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.lead_score := coalesce(NEW.lead_score, 0) + 10;
  RETURN NEW;
END $$;
CREATE TRIGGER score BEFORE INSERT OR UPDATE ON wd.signups
  FOR EACH ROW EXECUTE FUNCTION wd.score_signup();
SELECT emu_do('clear-calls');
INSERT INTO wd.signups (email, first_name) VALUES ('sol@example.com', 'Sol');
COPY wd.signups (email, first_name) FROM stdin;
cal@example.com	Cal
\.
SELECT n, action, input FROM wd.writes();
SELECT email, lead_source, lead_score FROM wd.leads
WHERE email IN ('sol@example.com', 'cal@example.com') ORDER BY 1;
-- UPDATE sends the SET columns and what the trigger changed, nothing else.
SELECT emu_do('clear-calls');
UPDATE wd.signups SET last_name = 'Sun' WHERE email = 'sol@example.com';
SELECT n, action, input FROM wd.writes();
SELECT last_name, lead_score FROM wd.leads WHERE email = 'sol@example.com';
-- A trigger's change to a column Marketo does not let us write is refused.
CREATE FUNCTION wd.renumber() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.id := NEW.id + 1000;
  RETURN NEW;
END $$;
CREATE TRIGGER renumber BEFORE UPDATE ON wd.signups
  FOR EACH ROW EXECUTE FUNCTION wd.renumber();
SELECT emu_do('clear-calls');
UPDATE wd.signups SET last_name = 'Moon' WHERE email = 'sol@example.com';
SELECT count(*) AS writes FROM wd.writes();
DROP TRIGGER renumber ON wd.signups;
-- Rows routed to a Marketo partition agree.
CREATE TABLE wd.forms (email text, first_name text, src text DEFAULT 'web') PARTITION BY LIST (src);
CREATE FOREIGN TABLE wd.forms_mk PARTITION OF wd.forms FOR VALUES IN ('web')
  SERVER marketo OPTIONS (object 'leads');
ALTER FOREIGN TABLE wd.forms_mk ALTER COLUMN first_name OPTIONS (ADD field 'firstName'),
  ALTER COLUMN src OPTIONS (ADD field 'leadSource');
SELECT emu_do('clear-calls');
INSERT INTO wd.forms (email, first_name) VALUES ('rue@example.com', 'Rue');
SELECT n, action, input FROM wd.writes();
-- The lookup field may come from a default or a trigger.
CREATE FOREIGN TABLE wd.drafts (
  email text OPTIONS (field 'email'),
  first_name text OPTIONS (field 'firstName')
) SERVER marketo OPTIONS (object 'leads');
CREATE FUNCTION wd.draft_email() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.email := coalesce(NEW.email, lower(NEW.first_name) || '@drafts.example.com');
  RETURN NEW;
END $$;
CREATE TRIGGER draft_email BEFORE INSERT ON wd.drafts
  FOR EACH ROW EXECUTE FUNCTION wd.draft_email();
SELECT emu_do('clear-calls');
INSERT INTO wd.drafts (first_name) VALUES ('Dee');
SELECT n, action, input FROM wd.writes();
-- ... but a row that ends up without it is refused before anything is sent,
-- and so is a read-only column a default fills.
ALTER FOREIGN TABLE wd.drafts DISABLE TRIGGER draft_email;
INSERT INTO wd.drafts (first_name) VALUES ('Nobody');
INSERT INTO wd.signups (email) VALUES (NULL);
ALTER FOREIGN TABLE wd.signups ALTER COLUMN id SET DEFAULT 1;
INSERT INTO wd.signups (email) VALUES ('ro@example.com');
ALTER FOREIGN TABLE wd.signups ALTER COLUMN id DROP DEFAULT;
SELECT count(*) AS writes FROM wd.writes();

--
-- 3. A DELETE whose first answer was lost: the repeat's "not found" means
-- the first sending deleted the lead, and the statement succeeds.
--
SELECT emu_do('add-leads', '[{"id": 9401, "email": "gone@example.com"}]');
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads/delete.json", "kind": "close_after"}');
DELETE FROM wd.leads WHERE id = 9401;
SELECT n, path, input, http_status FROM wd.writes();
SELECT count(*) AS left FROM wd.leads WHERE id = 9401;
-- Other objects answer 1013 "not found": the same.
SET client_min_messages = warning;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (companies) FROM SERVER marketo INTO wd;
SET client_min_messages = notice;
INSERT INTO wd.companies (external_company_id, company) VALUES ('GONE-1', 'Gone Ltd');
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/companies/delete.json", "kind": "close_after"}');
DELETE FROM wd.companies WHERE external_company_id = 'GONE-1';
SELECT n, path, input, http_status FROM wd.writes();
SELECT count(*) AS left FROM wd.companies WHERE external_company_id = 'GONE-1';

--
-- 4. ON CONFLICT DO NOTHING sends createOnly whatever insert_action says,
-- and the command tag counts only the rows Marketo created.
--
ALTER FOREIGN TABLE wd.leads OPTIONS (ADD insert_action 'createDuplicate');
SELECT emu_do('clear-calls');
INSERT INTO wd.leads (email, first_name)
VALUES ('sol@example.com', 'Again'), ('new4@example.com', 'New'), ('cal@example.com', 'Again')
ON CONFLICT DO NOTHING;
\echo rows inserted: :ROW_COUNT
SELECT n, action, jsonb_array_length(input) AS records FROM wd.writes();
SELECT email, count(*) FROM wd.leads
WHERE email IN ('sol@example.com', 'new4@example.com', 'cal@example.com') GROUP BY 1 ORDER BY 1;
ALTER FOREIGN TABLE wd.leads OPTIONS (DROP insert_action);
-- Rows routed to a Marketo partition too.
SELECT emu_do('clear-calls');
INSERT INTO wd.forms (email, first_name)
VALUES ('rue@example.com', 'Again'), ('new5@example.com', 'New')
ON CONFLICT DO NOTHING;
\echo rows inserted: :ROW_COUNT
SELECT n, action, jsonb_array_length(input) AS records FROM wd.writes();

--
-- 5. AFTER triggers see Marketo changed (INSERT, COPY), or are refused
-- where the rows go out only after they fire (UPDATE, DELETE).
--
CREATE TABLE wd.trigger_log (seq serial, event text, writes_seen bigint);
CREATE FUNCTION wd.log_writes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO wd.trigger_log (event, writes_seen) SELECT TG_OP || ' ' || TG_LEVEL, count(*) FROM wd.writes();
  RETURN NULL;
END $$;
CREATE FOREIGN TABLE wd.audited (
  id integer OPTIONS (field 'id', read_only 'true'),
  email text OPTIONS (field 'email'),
  first_name text OPTIONS (field 'firstName')
) SERVER marketo OPTIONS (object 'leads');
CREATE TRIGGER log_stmt AFTER INSERT OR UPDATE OR DELETE ON wd.audited
  FOR EACH STATEMENT EXECUTE FUNCTION wd.log_writes();
SELECT emu_do('clear-calls');
INSERT INTO wd.audited (email) VALUES ('t1@example.com'), ('t2@example.com');
COPY wd.audited (email) FROM stdin;
t3@example.com
t4@example.com
\.
CREATE TRIGGER log_row AFTER INSERT OR UPDATE OR DELETE ON wd.audited
  FOR EACH ROW EXECUTE FUNCTION wd.log_writes();
INSERT INTO wd.audited (email) VALUES ('t5@example.com');
COPY wd.audited (email) FROM stdin;
t6@example.com
\.
-- The INSERT's two rows go in one call, seen by its statement trigger; the
-- COPY's rows one call each, all made before its statement trigger; with a
-- row trigger too, every trigger sees the row's call made.
SELECT event, writes_seen FROM wd.trigger_log ORDER BY seq;
SELECT n, jsonb_array_length(input) AS records FROM wd.writes();
SELECT emu_do('clear-calls');
UPDATE wd.audited SET first_name = 'T' WHERE email = 't1@example.com';
DELETE FROM wd.audited WHERE email = 't1@example.com';
DROP TRIGGER log_row ON wd.audited;
UPDATE wd.audited SET first_name = 'T' WHERE email = 't1@example.com';
DELETE FROM wd.audited WHERE email = 't1@example.com';
-- A statement trigger on a partitioned table counts too.
CREATE TRIGGER log_stmt AFTER UPDATE ON wd.contacts
  FOR EACH STATEMENT EXECUTE FUNCTION wd.log_writes();
UPDATE wd.contacts SET first_name = 'M' WHERE email = 'mara@example.com';
SELECT count(*) AS writes FROM wd.writes();
-- Without AFTER triggers the UPDATE goes through.
DROP TRIGGER log_stmt ON wd.audited;
UPDATE wd.audited SET first_name = 'T' WHERE email = 't1@example.com';
SELECT n, input FROM wd.writes();

--
-- 6. INSERT and UPDATE through a view use the view owner's user mapping.
--
CREATE ROLE wd_owner;
CREATE ROLE wd_user;
CREATE USER MAPPING FOR wd_owner SERVER marketo
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
GRANT USAGE ON SCHEMA wd TO wd_owner, wd_user;
GRANT SELECT, INSERT, UPDATE ON wd.leads TO wd_owner;
CREATE VIEW wd.leads_view AS SELECT id, email, first_name FROM wd.leads;
ALTER VIEW wd.leads_view OWNER TO wd_owner;
GRANT SELECT, INSERT, UPDATE ON wd.leads_view TO wd_user;
SELECT emu_do('clear-calls');
SET ROLE wd_user;
INSERT INTO wd.leads_view (email, first_name) VALUES ('vi@example.com', 'Vi');
UPDATE wd.leads_view SET first_name = 'Vivian' WHERE email = 'vi@example.com';
SELECT first_name FROM wd.leads_view WHERE email = 'vi@example.com';
RESET ROLE;
SELECT n, action, input FROM wd.writes();

--
-- 14. An UPDATE or DELETE the call budget cannot finish is refused before
-- any of it is sent.
--
ALTER FOREIGN TABLE wd.leads OPTIONS (ADD batch_size '2');
SELECT emu_do('clear-calls');
INSERT INTO wd.leads (email) SELECT 'budget' || g || '@example.com' FROM generate_series(1, 6) g;
SET marketo_fdw.max_calls_per_statement = 3;
SELECT emu_do('clear-calls');
UPDATE wd.leads SET lead_score = 1
WHERE email = ANY (ARRAY['budget1@example.com', 'budget2@example.com', 'budget3@example.com',
                         'budget4@example.com', 'budget5@example.com', 'budget6@example.com']);
DELETE FROM wd.leads
WHERE email = ANY (ARRAY['budget1@example.com', 'budget2@example.com', 'budget3@example.com',
                         'budget4@example.com', 'budget5@example.com', 'budget6@example.com']);
SELECT method, count(*) FROM emu_rest_calls() GROUP BY 1 ORDER BY 1;
-- With room for every call, the same UPDATE goes through.
SET marketo_fdw.max_calls_per_statement = 4;
SELECT emu_do('clear-calls');
UPDATE wd.leads SET lead_score = 1
WHERE email = ANY (ARRAY['budget1@example.com', 'budget2@example.com', 'budget3@example.com',
                         'budget4@example.com', 'budget5@example.com', 'budget6@example.com']);
SELECT n, jsonb_array_length(input) AS records FROM wd.writes();
RESET marketo_fdw.max_calls_per_statement;
ALTER FOREIGN TABLE wd.leads OPTIONS (DROP batch_size);

SET client_min_messages = warning;
DROP SCHEMA wd CASCADE;
DROP USER MAPPING FOR wd_owner SERVER marketo;
DROP ROLE wd_owner;
DROP ROLE wd_user;

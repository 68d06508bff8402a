--
-- Secrets: the client secret and the access tokens appear in no message,
-- no EXPLAIN output and no server log line, even at debug5, through failed
-- logins, token refreshes, retries and writes.
--
\set VERBOSITY default
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA sec;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO sec;
SELECT emu_do('add-leads', '[{"id": 9501, "email": "sam@example.com", "firstName": "Sam"}]');
SET client_min_messages = notice;
SET log_min_messages = debug5;
SET marketo_fdw.retry_delay = '20ms';

-- A wrong secret: the error names neither it nor the right one.
ALTER USER MAPPING FOR CURRENT_USER SERVER marketo OPTIONS (SET client_secret 'Wr0ng-s3cret-9501');
SELECT id FROM sec.leads WHERE id = 9501;
ALTER USER MAPPING FOR CURRENT_USER SERVER marketo OPTIONS (SET client_secret 'emu-secret');

-- Token use, expiry and refresh, a rejected token, retries, a write and
-- EXPLAIN VERBOSE.
SELECT id FROM sec.leads WHERE id = 9501;
SELECT emu_do('expire-tokens');
SELECT id FROM sec.leads WHERE id = 9501;
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "601", "message": "Access token invalid", "count": 2}');
SELECT id FROM sec.leads WHERE id = 9501;
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "606", "message": "Max rate limit exceeded"}');
SELECT id FROM sec.leads WHERE id = 9501;
UPDATE sec.leads SET first_name = 'Samuel' WHERE id = 9501;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, first_name FROM sec.leads WHERE id = 9501;
-- Every call carried its token in the Authorization header only.
SELECT count(*) AS calls, count(*) FILTER (WHERE auth = 'bearer') AS with_bearer,
       count(*) FILTER (WHERE token_in_query) AS token_in_query
FROM emu_calls() WHERE path LIKE '/rest/%';
RESET log_min_messages;
RESET marketo_fdw.retry_delay;

-- The server log: it has marketo_fdw's debug lines and tokens were
-- issued, yet neither the tokens nor either secret are in it.
SELECT line::jsonb FROM emu('leaks', '["Wr0ng-s3cret-9501"]') AS line;

SET client_min_messages = warning;
DROP SCHEMA sec CASCADE;

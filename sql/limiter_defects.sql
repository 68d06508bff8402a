--
-- The limiter's defects of issue 9: server-wide settings, instances by
-- host, token requests counted, wrong credentials limited apart, resends
-- and repeats counted, the budget of a cursor, waiting out the rate window
-- on 606, and the wait event of a Marketo call.
--
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE SCHEMA ld;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, program_members) FROM SERVER marketo INTO ld;
SET client_min_messages = notice;

-- The limiter's rows for the emulator's plain port (other tests also use
-- its TLS port), the port hidden.
\getenv emu_port MKTO_EMU_PORT
SELECT set_config('ld.emu_port', :'emu_port', false) IS NOT NULL AS port_known;
CREATE FUNCTION ld_stats()
RETURNS TABLE (scope text, instance text, calls bigint, waits bigint) LANGUAGE sql AS $$
  SELECT scope, regexp_replace(instance, ':[0-9]+$', ':PORT'), calls, waits
  FROM marketo_call_stats()
  WHERE scope <> 'backend' AND instance LIKE '%:' || current_setting('ld.emu_port')
  ORDER BY 1, 2
$$;

-- 11. Calls with credentials Marketo never accepted do not take the room
-- of other roles' calls.  The window is 4 calls per 3 s.  A role's user
-- mapping holds junk credentials; its token requests get a token from a
-- fake identity answer (as a server with a hostile identity_url would),
-- which the REST API refuses (601).  That is 8 calls, all limited apart,
-- and the mapping holding valid credentials is not delayed.
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 4;
ALTER SYSTEM SET marketo_fdw.rate_window_ms = 3000;
SELECT pg_reload_conf();
SELECT pg_sleep(3.1);
CREATE ROLE ld_junk;
GRANT USAGE ON SCHEMA ld TO ld_junk;
GRANT SELECT ON ld.leads TO ld_junk;
CREATE USER MAPPING FOR ld_junk SERVER marketo
  OPTIONS (client_id 'junk', client_secret 'junk');
SELECT emu_do('fault', '{"path": "/identity/oauth/token", "kind": "raw", "count": 4, "body": "{\"access_token\": \"junk:ab\", \"token_type\": \"bearer\", \"expires_in\": 3600}"}');
SELECT emu_do('clear-calls');
CREATE TEMP TABLE before_stats AS SELECT * FROM ld_stats();
SET ROLE ld_junk;
SELECT id FROM ld.leads WHERE id = 1001;
SELECT id FROM ld.leads WHERE id = 1001;
RESET ROLE;
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT id FROM ld.leads WHERE id = 1001;
SELECT clock_timestamp() - t < interval '1 s' AS not_delayed FROM t0;
SELECT path, error_code, http_status FROM emu_calls() ORDER BY seq;
-- the junk calls are in this backend's window for unproven credentials,
-- and waited there (how many of them waited depends on how fast the
-- emulator answers: 1 when the first 4 leave the window together)
SELECT s.scope, s.instance, s.calls - coalesce(b.calls, 0) AS new_calls,
       s.waits - coalesce(b.waits, 0) > 0 AS waited
FROM ld_stats() s LEFT JOIN before_stats b USING (scope, instance)
WHERE s.instance NOT LIKE '%localhost%';
SELECT emu_do('clear-faults');
DROP USER MAPPING FOR ld_junk SERVER marketo;
REVOKE ALL ON ld.leads FROM ld_junk;
REVOKE ALL ON SCHEMA ld FROM ld_junk;
DROP ROLE ld_junk;
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
ALTER SYSTEM RESET marketo_fdw.rate_window_ms;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- 12a. The window's settings are server-wide: no session sets its own,
-- ALTER SYSTEM and a reload set them for every backend.
SET marketo_fdw.max_calls_per_window = 5;
SET marketo_fdw.rate_window_ms = 1000;
SET marketo_fdw.max_concurrent_calls = 2;
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 50;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW marketo_fdw.max_calls_per_window;
SELECT dblink_connect('o1', self_conn());
SELECT * FROM dblink('o1', 'SHOW marketo_fdw.max_calls_per_window') AS t(v text);
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW marketo_fdw.max_calls_per_window;

-- 12b. Spellings of one URL are one instance, known by host and port:
-- here the host's case, a trailing slash and a port with a leading zero.
\getenv emu_port MKTO_EMU_PORT
\set url_upper 'http://LocalHost:0' :emu_port '/'
\set url_lower 'http://localhost:' :emu_port
CREATE SERVER ld_upper FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url :'url_upper');
CREATE SERVER ld_lower FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url :'url_lower');
CREATE USER MAPPING FOR CURRENT_USER SERVER ld_upper
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER ld_lower
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE FOREIGN TABLE ld.leads_upper (id integer, email text)
  SERVER ld_upper OPTIONS (object 'leads');
CREATE FOREIGN TABLE ld.leads_lower (id integer, email text)
  SERVER ld_lower OPTIONS (object 'leads');

-- 12c. Token requests count against the budget and the limits, as REST
-- calls do: the first query of a new server makes a token request and one
-- lookup, two calls.
SELECT emu_do('clear-calls');
CREATE TEMP TABLE before_calls AS SELECT coalesce(sum(calls), 0) AS n FROM marketo_call_stats() WHERE instance LIKE '%localhost%';
SET marketo_fdw.max_calls_per_statement = 1;
SELECT id FROM ld.leads_upper WHERE id = 1001;
SET marketo_fdw.max_calls_per_statement = 2;
SELECT id FROM ld.leads_upper WHERE id = 1001;
RESET marketo_fdw.max_calls_per_statement;
SELECT id FROM ld.leads_lower WHERE id = 1002;
SELECT path, http_status FROM emu_calls() ORDER BY seq;
-- one instance for both servers, and every call above in its count
SELECT scope, instance FROM ld_stats() WHERE instance LIKE '%localhost%';
SELECT (SELECT sum(calls) FROM marketo_call_stats() WHERE instance LIKE '%localhost%') - n AS counted,
       (SELECT count(*) FROM emu_calls()) AS emulator_saw
FROM before_calls;

-- 3. A read whose connection drops after Marketo applied it is sent again:
-- libcurl resends it once on a new connection, and then marketo_fdw retries.
-- The limiter counts each sending, libcurl's own resend included.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "close_after", "count": 2}');
SELECT emu_do('clear-calls');
CREATE TEMP TABLE before_resend AS SELECT sum(calls) AS n FROM marketo_call_stats() WHERE scope = 'instance';
SELECT id FROM ld.leads WHERE id = 1001;
SELECT n, path, http_status FROM emu_rest_calls();
SELECT (SELECT sum(calls) FROM marketo_call_stats() WHERE scope = 'instance') - n AS counted,
       (SELECT count(*) FROM emu_rest_calls()) AS emulator_saw
FROM before_resend;
-- So does the budget: with 2 calls allowed, the first sending and libcurl's
-- resend spend it, and the retry is refused.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "close_after", "count": 2}');
SELECT emu_do('clear-calls');
SET marketo_fdw.max_calls_per_statement = 2;
SELECT id FROM ld.leads WHERE id = 1001;
RESET marketo_fdw.max_calls_per_statement;
SELECT n, path, http_status FROM emu_rest_calls();
SELECT emu_do('clear-faults');

-- 14. A cursor's FETCHes share their query's budget: 650 members in pages
-- of 100 take 7 calls, one a page, and a budget of 4 stops the cursor in
-- its fifth page, however many FETCHes it took to get there.
SELECT emu_do('add-members', '{"programId": 1046, "generate": 650, "statusName": "Registered", "startLeadId": 20001}');
SELECT emu_do('config', '{"page_size": 100}');
SET marketo_fdw.max_calls_per_statement = 4;
SELECT emu_do('clear-calls');
BEGIN;
DECLARE c CURSOR FOR SELECT lead_id FROM ld.program_members WHERE program_id = 1046;
FETCH 100 FROM c \g /dev/null
FETCH 100 FROM c \g /dev/null
FETCH 100 FROM c \g /dev/null
FETCH 100 FROM c \g /dev/null
FETCH 100 FROM c \g /dev/null
ROLLBACK;
SELECT count(*) AS calls FROM emu_rest_calls();
-- the next statement has a budget of its own
SELECT count(*) FROM ld.program_members WHERE program_id = 1044;
RESET marketo_fdw.max_calls_per_statement;
SELECT emu_do('config', '{"page_size": 300}');

-- 15. On 606 a call waits for the rate window to pass, as Marketo advises,
-- instead of a few short backoffs that end inside the window.  The
-- emulator allows 2 calls per 2 s, the limiter lets 100 through (as other
-- backends or integrations would), and the backoffs (10 ms on) would span
-- 150 ms.
ALTER SYSTEM SET marketo_fdw.rate_window_ms = 2000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SET marketo_fdw.retry_delay = 10;
SELECT emu_do('config', '{"rate_limit": 2, "rate_window": 2}');
SELECT pg_sleep(2.1);
SELECT emu_do('clear-calls');
CREATE TEMP TABLE t1 AS SELECT clock_timestamp() AS t;
SELECT id FROM ld.leads WHERE id = 1001
UNION ALL SELECT id FROM ld.leads WHERE id = 1002
UNION ALL SELECT id FROM ld.leads WHERE id = 1003 ORDER BY 1;
SELECT clock_timestamp() - t >= interval '2 s' AS waited_the_window FROM t1;
SELECT n, error_code FROM emu_rest_calls();
-- marketo_fdw.rate_limit_waits bounds the waits: the emulator's window
-- (10 s, 1 call) outlasts two of ours.
SELECT emu_do('config', '{"rate_limit": 1, "rate_window": 10}');
SET marketo_fdw.rate_limit_waits = 2;
SELECT emu_do('clear-calls');
SELECT id FROM ld.leads WHERE id = 1001
UNION ALL SELECT id FROM ld.leads WHERE id = 1002;
SELECT n, error_code FROM emu_rest_calls();
RESET marketo_fdw.rate_limit_waits;
-- statement_timeout ends the wait (the window, 2 s, is longer).
SELECT emu_do('clear-calls');
SET statement_timeout = '1s';
SELECT id FROM ld.leads WHERE id = 1001
UNION ALL SELECT id FROM ld.leads WHERE id = 1002;
RESET statement_timeout;
SELECT bool_or(error_code = '606') AS saw_606 FROM emu_rest_calls();
RESET marketo_fdw.retry_delay;
SELECT emu_do('config', '{"rate_limit": 100, "rate_window": 20}');
ALTER SYSTEM RESET marketo_fdw.rate_window_ms;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- 16. A backend in a Marketo call shows the Extension wait event, and it
-- ends with the call, cancelled or not.
CREATE TEMP TABLE o1 AS SELECT pid FROM dblink('o1', 'SELECT pg_backend_pid()') AS t(pid int);
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "hang", "seconds": 30}');
SELECT dblink_send_query('o1', 'SELECT id FROM ld.leads WHERE id = 1001');
SELECT pg_sleep(0.5);
SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = (SELECT pid FROM o1);
SELECT pg_cancel_backend(pid) FROM o1;
DO $$
BEGIN
  PERFORM * FROM dblink_get_result('o1') AS t(id int);
EXCEPTION WHEN query_canceled OR others THEN
  RAISE NOTICE 'remote error: %', SQLERRM;
  PERFORM * FROM dblink_get_result('o1', false) AS t(id int);
END $$;
SELECT emu_do('clear-faults');
SELECT pg_sleep(0.2);
SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE pid = (SELECT pid FROM o1);
SELECT dblink_disconnect('o1');

SET client_min_messages = warning;
DROP SCHEMA ld CASCADE;
DROP SERVER ld_upper CASCADE;
DROP SERVER ld_lower CASCADE;
DROP FUNCTION ld_stats();

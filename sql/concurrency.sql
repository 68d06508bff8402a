--
-- Other sessions: cancel from another backend, and the concurrency limit
-- shared by backends (through dblink connections to this same server).
-- Also the timeout and TLS options, and who may set them.
--
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE SCHEMA conc;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO conc;
SET client_min_messages = notice;


-- pg_cancel_backend stops a call to a hanging Marketo within about a second.
SELECT dblink_connect('c1', self_conn());
CREATE TEMP TABLE c1 AS SELECT pid FROM dblink('c1', 'SELECT pg_backend_pid()') AS t(pid int);
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "hang", "seconds": 30}');
SELECT dblink_send_query('c1', 'SELECT id FROM conc.leads WHERE id = 1001');
SELECT pg_sleep(0.5);
CREATE TEMP TABLE cancel_at AS SELECT clock_timestamp() AS t, pg_cancel_backend(pid) AS sent FROM c1;
SELECT sent FROM cancel_at;
DO $$
BEGIN
  PERFORM * FROM dblink_get_result('c1') AS t(id int);
  RAISE NOTICE 'no error';
EXCEPTION WHEN query_canceled OR others THEN
  RAISE NOTICE 'remote error: %; within 3 s: %', SQLERRM,
    clock_timestamp() - (SELECT t FROM cancel_at) < interval '3 s';
  PERFORM * FROM dblink_get_result('c1', false) AS t(id int);  -- the end of the results
END $$;
SELECT emu_do('clear-faults');
SELECT * FROM dblink('c1', 'SELECT count(*) FROM conc.leads WHERE id = 1001') AS t(n bigint);

-- Three backends, one call in flight at a time: with the shared limiter the
-- emulator (limit 1) never sees two at once, so no 615.
SELECT emu_do('config', '{"concurrency_limit": 1}');
SELECT dblink_connect('c2', self_conn());
SELECT dblink_connect('c3', self_conn());
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "slow", "seconds": 0.5, "count": 3}');
SELECT emu_do('clear-calls');
ALTER SYSTEM SET marketo_fdw.max_concurrent_calls = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT dblink_send_query(c, 'SELECT id FROM conc.leads WHERE id = 1001')
FROM unnest(ARRAY['c1', 'c2', 'c3']) c;
SELECT c, (SELECT id FROM dblink_get_result(c) AS t(id int)) FROM unnest(ARRAY['c1', 'c2', 'c3']) c;
SELECT c, (SELECT count(*) FROM dblink_get_result(c) AS t(id int)) AS rest FROM unnest(ARRAY['c1', 'c2', 'c3']) c;
SELECT count(*) AS calls, count(*) FILTER (WHERE error_code = '615') AS errors_615
FROM emu_rest_calls() WHERE path = '/rest/v1/leads.json';
-- The control: allowed 10 in flight, the backends collide and draw 615s
-- (which the client retries).
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "slow", "seconds": 0.5, "count": 3}');
SELECT emu_do('clear-calls');
ALTER SYSTEM RESET marketo_fdw.max_concurrent_calls;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT dblink_send_query(c, 'SELECT id FROM conc.leads WHERE id = 1001')
FROM unnest(ARRAY['c1', 'c2', 'c3']) c;
SELECT c, (SELECT id FROM dblink_get_result(c) AS t(id int)) FROM unnest(ARRAY['c1', 'c2', 'c3']) c;
SELECT c, (SELECT count(*) FROM dblink_get_result(c) AS t(id int)) AS rest FROM unnest(ARRAY['c1', 'c2', 'c3']) c;
SELECT count(*) FILTER (WHERE error_code = '615') > 0 AS saw_615
FROM emu_rest_calls() WHERE path = '/rest/v1/leads.json';
SELECT emu_do('clear-faults');
SELECT emu_do('config', '{"concurrency_limit": 10}');
SELECT dblink_disconnect(c) FROM unnest(ARRAY['c1', 'c2', 'c3']) c;

-- read_timeout replaces the endpoint's own: a read stuck for 30 s is given
-- up after 1 s and, being a read, sent again.
ALTER SERVER marketo OPTIONS (ADD read_timeout '1');
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "hang", "seconds": 30}');
SELECT id FROM conc.leads WHERE id = 1001;
SELECT n, path FROM emu_rest_calls();
ALTER SERVER marketo OPTIONS (DROP read_timeout);
SELECT emu_do('clear-faults');

-- Option values.
ALTER SERVER marketo OPTIONS (ADD connect_timeout '0');
ALTER SERVER marketo OPTIONS (ADD write_timeout 'soon');
ALTER SERVER marketo OPTIONS (ADD ca_file 'certs/ca.pem');
ALTER SERVER marketo OPTIONS (ADD ca_file '/nonexistent/ca.pem');
ALTER SERVER marketo OPTIONS (DROP ca_file);

-- A non-superuser may not set file options or point a server at loopback.
CREATE ROLE conc_user;
GRANT USAGE ON FOREIGN DATA WRAPPER marketo_fdw TO conc_user;
SET ROLE conc_user;
CREATE SERVER mine FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://123-ABC-456.mktorest.com');
ALTER SERVER mine OPTIONS (ADD ca_file '/etc/ssl/certs/ca-certificates.crt');
\getenv emu_port MKTO_EMU_PORT
\set emu_url 'http://127.0.0.1:' :emu_port
ALTER SERVER mine OPTIONS (SET base_url :'emu_url');
ALTER SERVER mine OPTIONS (SET base_url 'https://localhost:5432');
DROP SERVER mine;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER marketo_fdw FROM conc_user;
DROP ROLE conc_user;

--
-- Transport defects of issue 9: https against the emulator's TLS port
-- (item 13), a base_url ending in /rest (18), libcurl's silent resends
-- counted (3), and the address checks for servers of non-superusers (10).
--
\set VERBOSITY default
\getenv emu_port MKTO_EMU_PORT
\getenv emu_tls_port MKTO_EMU_TLS_PORT
\getenv emu_ca MKTO_EMU_CA
\getenv emu_other_ca MKTO_EMU_OTHER_CA
\set emu_url 'http://127.0.0.1:' :emu_port
\set tls_url 'https://127.0.0.1:' :emu_tls_port

-- The calls the emulator received, and whether each came over TLS.
CREATE FUNCTION tr_calls() RETURNS TABLE (method text, path text, tls boolean)
LANGUAGE sql AS $$
  SELECT j->>'method', j->>'path', (j->>'tls')::boolean
  FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) AS x
  ORDER BY (j->>'seq')::int
$$;

--
-- Item 13: https, verified with ca_file.
--
CREATE SERVER mk_tls FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url :'tls_url', ca_file :'emu_ca');
CREATE USER MAPPING FOR CURRENT_USER SERVER mk_tls
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE FOREIGN TABLE tls_leads (id int, email text) SERVER mk_tls OPTIONS (object 'leads');
SELECT emu_do('reset');
SELECT id, email FROM tls_leads WHERE id = 1001;
INSERT INTO tls_leads (email) VALUES ('tls@example.com');
DELETE FROM tls_leads WHERE email = 'tls@example.com';
SELECT * FROM tr_calls();

-- By name: the certificate is for localhost too.
\set tls_name_url 'https://localhost:' :emu_tls_port
ALTER SERVER mk_tls OPTIONS (SET base_url :'tls_name_url');
SELECT emu_do('clear-calls');
SELECT id, email FROM tls_leads WHERE id = 1002;
SELECT * FROM tr_calls();
SELECT emu_do('clear-calls');

-- A certificate from another CA is refused, and the error says why.
ALTER SERVER mk_tls OPTIONS (SET base_url :'tls_url', SET ca_file :'emu_other_ca');
SELECT id FROM tls_leads WHERE id = 1001;
-- So is one for another name (emu.localhost resolves to 127.0.0.1 in curl).
\set tls_wrong_name_url 'https://emu.localhost:' :emu_tls_port
ALTER SERVER mk_tls OPTIONS (SET base_url :'tls_wrong_name_url', SET ca_file :'emu_ca');
SELECT id FROM tls_leads WHERE id = 1001;
-- Without ca_file, curl's own trust store does not know the test CA.
ALTER SERVER mk_tls OPTIONS (SET base_url :'tls_url', DROP ca_file);
SELECT id FROM tls_leads WHERE id = 1001;
-- None of these reached the API.
SELECT count(*) AS calls FROM tr_calls();
DROP SERVER mk_tls CASCADE;

--
-- Item 18: a base_url as Marketo's admin page shows it, ending in /rest.
--
\set rest_url :emu_url '/rest'
\set rest_slash_url :emu_url '/REST/'
CREATE SERVER mk_rest FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url :'rest_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER mk_rest
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE FOREIGN TABLE rest_leads (id int, email text) SERVER mk_rest OPTIONS (object 'leads');
SELECT emu_do('clear-calls');
SELECT id, email FROM rest_leads WHERE id = 1003;
ALTER SERVER mk_rest OPTIONS (SET base_url :'rest_slash_url');
SELECT id, email FROM rest_leads WHERE id = 1004;
SELECT method, path FROM tr_calls();
DROP SERVER mk_rest CASCADE;

--
-- Item 3: libcurl resends a request whose kept-alive connection closed
-- unanswered; the resend is seen and counted.
--
CREATE FOREIGN TABLE resend_leads (id int, email text) SERVER marketo OPTIONS (object 'leads');
SELECT id FROM resend_leads WHERE id = 1005;   -- opens the kept-alive connection
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"kind": "close_after", "method": "GET", "path": "/rest/v1/leads.json"}');
SET client_min_messages = debug1;
SELECT id FROM resend_leads WHERE id = 1005;
RESET client_min_messages;
SELECT method, path, http_status FROM emu_rest_calls();
DROP FOREIGN TABLE resend_leads;

--
-- Item 10: servers of non-superusers reach only allowed, public addresses.
--
CREATE ROLE tr_user;
GRANT USAGE ON FOREIGN DATA WRAPPER marketo_fdw TO tr_user;
SHOW marketo_fdw.allowed_hosts;
SET marketo_fdw.allowed_hosts = '*';
SET ROLE tr_user;
-- Every spelling of a local address is refused when the server is made...
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://0.0.0.0:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://2130706433:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://[::ffff:127.0.0.1]:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://[::1]:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://[::]:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://[fe80::1]:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://LOCALHOST:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://emu.localhost:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://169.254.169.254');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://123-ABC-456.mktorest.com', identity_url 'https://127.1/identity');
-- ... as is a user name or password in the URL (from superusers too) ...
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://x@127.0.0.1:5432');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://:pw@123-ABC-456.mktorest.com');
-- ... and, with the default allow-list, every host but Marketo's.
RESET ROLE;
RESET marketo_fdw.allowed_hosts;
SET ROLE tr_user;
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://example.com');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://123-ABC-456.mktorest.com.example.com');
CREATE SERVER s_local FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://mktorest.com');
CREATE SERVER s_ok FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://123-ABC-456.MKTOREST.COM/rest');
-- Only superusers set the allow-list.
SET marketo_fdw.allowed_hosts = '*';
DROP SERVER s_ok;
RESET ROLE;
SET marketo_fdw.allowed_hosts = 'a*b.com';
SET marketo_fdw.allowed_hosts = 'example.com:443';
SET marketo_fdw.allowed_hosts = '*.mktorest.com, Example.COM';
SET ROLE tr_user;
CREATE SERVER s_ok FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url 'https://example.com./');
DROP SERVER s_ok;
RESET ROLE;

-- At connect time: servers a superuser made, then gave to tr_user (no
-- validator runs on a change of owner), with every spelling of the
-- emulator's address, its open TLS and plain ports and a closed one.  The
-- emulator receives nothing, and every failure reads the same.
SET marketo_fdw.allowed_hosts = '*';
CREATE FUNCTION tr_server(name text, url text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url %L, ca_file %L, connect_timeout %L)',
                 name, url, current_setting('tr.ca'), '1');
  EXECUTE format('ALTER SERVER %I OWNER TO tr_user', name);
  EXECUTE format('CREATE USER MAPPING FOR tr_user SERVER %I OPTIONS (client_id %L, client_secret %L)',
                 name, 'emu-client', 'emu-secret');
  EXECUTE format('CREATE FOREIGN TABLE %I (id int) SERVER %I OPTIONS (object %L)',
                 name || '_leads', name, 'leads');
  EXECUTE format('GRANT SELECT ON %I TO tr_user', name || '_leads');
END $$;
SELECT set_config('tr.ca', :'emu_ca', false) IS NOT NULL AS ca_set;
SELECT tr_server('c_plain', 'https://127.0.0.1:' || :'emu_tls_port'),
       tr_server('c_zero', 'https://0.0.0.0:' || :'emu_tls_port'),
       tr_server('c_decimal', 'https://2130706433:' || :'emu_tls_port'),
       tr_server('c_mapped', 'https://[::ffff:127.0.0.1]:' || :'emu_tls_port'),
       tr_server('c_upper', 'https://LOCALHOST:' || :'emu_tls_port'),
       tr_server('c_name', 'https://emu.localhost:' || :'emu_tls_port'),
       tr_server('c_v6', 'https://[::1]:' || :'emu_tls_port'),
       tr_server('c_not_tls', 'https://127.0.0.1:' || :'emu_port'),
       tr_server('c_http', 'http://127.0.0.1:' || :'emu_port'),
       tr_server('c_closed', 'https://127.0.0.1:1'),
       tr_server('c_metadata', 'https://169.254.169.254'),
       tr_server('c_unreachable', 'https://192.0.2.1');
SELECT emu_do('clear-calls');
-- The error of a query, message and detail.
CREATE FUNCTION tr_error(tbl text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  msg text;
  detail text;
BEGIN
  EXECUTE format('SELECT count(*) FROM %I WHERE id = 1001', tbl);
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  RETURN msg || E'\n' || detail;
END $$;
SET ROLE tr_user;
SELECT server, tr_error(server || '_leads') AS error
FROM unnest(ARRAY['c_plain', 'c_zero', 'c_decimal', 'c_mapped', 'c_upper', 'c_name',
                  'c_v6', 'c_not_tls', 'c_http', 'c_closed', 'c_metadata',
                  'c_unreachable']) AS server;
-- and the hint
SELECT * FROM c_closed_leads WHERE id = 1001;
RESET ROLE;
SELECT count(*) AS calls FROM tr_calls();

-- The allow-list is checked on every call too.
RESET marketo_fdw.allowed_hosts;
SET ROLE tr_user;
SELECT * FROM c_plain_leads WHERE id = 1001;
RESET ROLE;

-- A kept-alive connection is checked again when a server changes owner:
-- curl opens no new socket for it.
SET marketo_fdw.allowed_hosts = '*';
CREATE SERVER c_flip FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url :'tls_url', ca_file :'emu_ca');
CREATE USER MAPPING FOR CURRENT_USER SERVER c_flip
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');
CREATE FOREIGN TABLE c_flip_leads (id int) SERVER c_flip OPTIONS (object 'leads');
SELECT * FROM c_flip_leads WHERE id = 1001;
ALTER SERVER c_flip OWNER TO tr_user;
SELECT emu_do('clear-calls');
SELECT * FROM c_flip_leads WHERE id = 1001;
SELECT count(*) AS calls FROM tr_calls();
ALTER SERVER c_flip OWNER TO CURRENT_USER;
SELECT * FROM c_flip_leads WHERE id = 1001;
RESET marketo_fdw.allowed_hosts;

DROP SERVER c_plain, c_zero, c_decimal, c_mapped, c_upper, c_name, c_v6,
  c_not_tls, c_http, c_closed, c_metadata, c_unreachable, c_flip CASCADE;
DROP FUNCTION tr_server(text, text);
DROP FUNCTION tr_error(text);
DROP FUNCTION tr_calls();
REVOKE USAGE ON FOREIGN DATA WRAPPER marketo_fdw FROM tr_user;
DROP ROLE tr_user;

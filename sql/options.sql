--
-- Option validation: every option in its place, with hints naming the valid
-- ones; URLs must be https except for loopback.
--
\set VERBOSITY default

-- Options in the wrong place.
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'https://123-ABC-456.mktorest.com', client_secret 'hunter2');
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw OPTIONS (object 'leads');
ALTER FOREIGN DATA WRAPPER marketo_fdw OPTIONS (ADD base_url 'https://x.mktorest.com');

-- URLs.
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'http://123-ABC-456.mktorest.com');
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'ftp://123-ABC-456.mktorest.com');
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'https://123-ABC-456.mktorest.com?x=1');
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'https://123-ABC-456.mktorest.com', identity_url 'http://evil.example.com/identity');
CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'http://127.0.0.2:1');
DROP SERVER s_bad;
CREATE SERVER s_ok FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url 'https://123-ABC-456.mktorest.com/', identity_url 'https://123-ABC-456.mktorest.com/identity/');

-- User mapping options.
CREATE USER MAPPING FOR CURRENT_USER SERVER s_ok OPTIONS (client_id 'a', base_url 'https://x.com');
CREATE USER MAPPING FOR CURRENT_USER SERVER s_ok OPTIONS (client_id '', client_secret 's');
CREATE USER MAPPING FOR CURRENT_USER SERVER s_ok OPTIONS (client_id 'a', client_secret 's');

-- Table options.
CREATE FOREIGN TABLE t_bad (id int) SERVER s_ok OPTIONS (object 'widgets');
CREATE FOREIGN TABLE t_bad (id int) SERVER s_ok OPTIONS (batch_size '301');
CREATE FOREIGN TABLE t_bad (id int) SERVER s_ok OPTIONS (batch_size '0');
CREATE FOREIGN TABLE t_bad (id int) SERVER s_ok OPTIONS (batch_size '10x');
CREATE FOREIGN TABLE t_bad (id int) SERVER s_ok OPTIONS (insert_action 'upsert');
CREATE FOREIGN TABLE t_bad (id int) SERVER s_ok OPTIONS (client_id 'a');
CREATE FOREIGN TABLE t_bad (id int OPTIONS (fieldname 'id')) SERVER s_ok;
CREATE FOREIGN TABLE t_bad (id int OPTIONS (searchable 'maybe')) SERVER s_ok;
CREATE FOREIGN TABLE t_ok (
  id int OPTIONS (field 'id'),
  email text OPTIONS (field 'email', searchable 'true', read_only 'false')
) SERVER s_ok OPTIONS (object 'leads', batch_size '100',
                       insert_action 'createOrUpdate', lookup_field 'email');
ALTER FOREIGN TABLE t_ok OPTIONS (SET batch_size '500');

-- A table named after no object, without an object option, is refused at use.
CREATE FOREIGN TABLE widgets (id int) SERVER s_ok;
SELECT * FROM widgets WHERE id = 1;

-- Secrets: only the mapping's owner (and superusers) can see its options.
CREATE ROLE mkto_other;
SET ROLE mkto_other;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 's_ok';
RESET ROLE;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 's_ok';
DROP ROLE mkto_other;

DROP SERVER s_ok CASCADE;

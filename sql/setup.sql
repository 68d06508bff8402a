--
-- Objects every test uses.  The emulator is driven through test/emuctl.py,
-- which the server runs with COPY FROM PROGRAM ($MKTO_EMU_CTL is set by
-- test/env.sh when it starts the cluster).
--
CREATE EXTENSION marketo_fdw;

-- The emulator listens on a free port that test/env.sh exports.
\getenv emu_port MKTO_EMU_PORT
\set emu_url 'http://127.0.0.1:' :emu_port
CREATE SERVER marketo FOREIGN DATA WRAPPER marketo_fdw
  OPTIONS (base_url :'emu_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER marketo
  OPTIONS (client_id 'emu-client', client_secret 'emu-secret');

-- emu('reset'), emu('fault', '{"kind": ...}'), ...: one line of output each.
CREATE FUNCTION emu(cmd text, arg text DEFAULT NULL) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  command text := 'python3 "$MKTO_EMU_CTL" ' || cmd;
BEGIN
  IF arg IS NOT NULL THEN
    command := command || ' ''' || replace(arg, '''', '''\''''') || '''';
  END IF;
  IF to_regclass('pg_temp.emu_out') IS NULL THEN
    CREATE TEMP TABLE emu_out (line text);
  END IF;
  TRUNCATE emu_out;
  -- csv with control characters as delimiter and quote passes lines verbatim
  EXECUTE format('COPY emu_out FROM PROGRAM %L WITH (FORMAT csv, DELIMITER E''\x01'', QUOTE E''\x02'')',
                 command);
  RETURN QUERY SELECT line FROM emu_out;
END $$;

-- Runs an emulator command, shows only whether it worked.
CREATE FUNCTION emu_do(cmd text, arg text DEFAULT NULL) RETURNS boolean
LANGUAGE sql AS $$ SELECT count(*) >= 0 FROM emu(cmd, arg) $$;

-- The emulator's call log, one row per HTTP request it received.
CREATE FUNCTION emu_calls()
RETURNS TABLE (seq int, method text, path text, query jsonb, form jsonb,
               body jsonb, auth text, token_in_query boolean,
               http_status int, error_code text, url_length int)
LANGUAGE sql AS $$
  SELECT (j->>'seq')::int, j->>'method', j->>'path', j->'query', j->'form',
         j->'body', j->>'auth', (j->>'token_in_query')::boolean,
         (j->>'http_status')::int, j->>'error_code', (j->>'url_length')::int
  FROM emu('calls') AS line, LATERAL (SELECT line::jsonb AS j) AS x
  ORDER BY 1
$$;

-- The REST calls only (not token requests), numbered from 1.
CREATE FUNCTION emu_rest_calls()
RETURNS TABLE (n bigint, method text, path text, query jsonb, form jsonb,
               body jsonb, error_code text, http_status int)
LANGUAGE sql AS $$
  SELECT row_number() OVER (ORDER BY seq), method, path, query, form, body, error_code,
         http_status
  FROM emu_calls() WHERE path NOT LIKE '/identity/%'
$$;

-- A libpq connection string back to this server, for dblink sessions.
CREATE FUNCTION self_conn() RETURNS text LANGUAGE sql AS $$
  SELECT format('host=%s port=%s dbname=%s user=%s',
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'), current_database(), current_user)
$$;

SELECT emu_do('reset');

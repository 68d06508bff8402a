--
-- Marketo errors and faults: auth, token refresh, envelope errors, bad
-- data, timeouts and cancel.
--
\set VERBOSITY default
SELECT emu_do('reset');
SELECT emu_do('add-leads', '[{"id": 9201, "email": "kim@example.com", "firstName": "Kim", "leadScore": 3}]');

-- Bad credentials: a clear error, and the secret appears nowhere.
ALTER USER MAPPING FOR CURRENT_USER SERVER marketo OPTIONS (SET client_secret 'wrong-secret-value');
SELECT id FROM marketo.leads WHERE id = 9201;
ALTER USER MAPPING FOR CURRENT_USER SERVER marketo OPTIONS (SET client_secret 'emu-secret');
SELECT id FROM marketo.leads WHERE id = 9201;

-- An expired token (602) is refreshed and the call repeated once.
SELECT emu_do('expire-tokens');
SELECT emu_do('clear-calls');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT method, path, error_code FROM emu_calls() ORDER BY seq;

-- 601 likewise.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "601", "message": "Access token invalid"}');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT method, path, error_code FROM emu_calls() ORDER BY seq;

-- The token is reused across statements until it expires.
SELECT emu_do('clear-calls');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT count(*) FILTER (WHERE path LIKE '/identity/%') AS token_calls,
       count(*) FILTER (WHERE path LIKE '/rest/%') AS rest_calls
FROM emu_calls();

-- A Marketo error in the envelope is an error, never an empty result.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "1003", "message": "Too many results match the filter"}');
SELECT id FROM marketo.leads WHERE id = 9201;

-- Daily quota: fails at once, no retry.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "607", "message": "Daily quota reached"}');
\set VERBOSITY terse
SELECT id FROM marketo.leads WHERE id = 9201;
\set VERBOSITY default
SELECT count(*) AS calls FROM emu_rest_calls();
-- The hint gives the reset time: the next midnight in Chicago, as UTC.
CREATE FUNCTION quota_hint(code text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  PERFORM emu_do('fault', format('{"path": "/rest/v1/leads.json", "kind": "error", "code": "%s", "message": "quota"}', code));
  PERFORM id FROM marketo.leads WHERE id = 9201;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN hint;
END $$;
SELECT code, quota_hint(code) = format('The quota resets at midnight US Central time, %s UTC.',
         to_char(((date_trunc('day', now() AT TIME ZONE 'America/Chicago') + interval '1 day')
                  AT TIME ZONE 'America/Chicago') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')) AS hint_ok
FROM (VALUES ('607'), ('1029')) v(code);
SELECT count(*) AS calls FROM emu_rest_calls();

-- Rate limit: retried after a back-off, then it succeeds.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "606", "message": "Max rate limit exceeded"}');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT n, error_code FROM emu_rest_calls();

-- A 503 on a read is retried.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "http", "status": 503}');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT count(*) AS calls FROM emu_rest_calls();

-- A 414 (a gateway counting the URL as too long) is resent as POST _method=GET.
SELECT emu_do('clear-calls');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "http", "status": 414}');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT n, method, path, query->>'_method' AS _method, form->>'filterValues' AS form_values,
       http_status
FROM emu_rest_calls();

-- Malformed JSON.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "malformed", "count": 5}');
SELECT id FROM marketo.leads WHERE id = 9201;
SELECT emu_do('clear-faults');

-- A value that does not fit its column names the column, field and value.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "leadScore", "value": "lots"}');
SELECT id, lead_score FROM marketo.leads WHERE id = 9201;
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "leadScore", "value": {"x": 1}}');
SELECT id, lead_score FROM marketo.leads WHERE id = 9201;
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "createdAt", "value": "yesterday-ish"}');
SELECT id, created_at FROM marketo.leads WHERE id = 9201;

-- A write Marketo rejects as a whole.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "method": "POST", "kind": "error", "code": "1003", "message": "Invalid data"}');
INSERT INTO marketo.leads (email) VALUES ('lee@example.com');

-- A hanging Marketo is interrupted by statement_timeout.
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "hang", "seconds": 30}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
SET statement_timeout = '1s';
SELECT id FROM marketo.leads WHERE id = 9201;
RESET statement_timeout;
-- within about a second of the timeout, not after the 30 s hang
SELECT clock_timestamp() - t < interval '2.5 s' AS prompt FROM started;
SELECT emu_do('clear-faults');
SELECT id FROM marketo.leads WHERE id = 9201;

-- Every error carries an FDW SQLSTATE (class HV).
CREATE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT q, sqlstate_of(q) FROM (VALUES
  ('SELECT id FROM marketo.leads'),
  ('SELECT id FROM marketo.leads WHERE email = ''a,b@example.com'''),
  ('INSERT INTO marketo.leads (email, created_at) VALUES (''x@example.com'', now())'),
  ('CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw OPTIONS (client_id ''x'')'),
  ('CREATE SERVER s_bad FOREIGN DATA WRAPPER marketo_fdw OPTIONS (base_url ''http://example.com'')')
) AS t(q);
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "error", "code": "1003", "message": "Too many results match the filter"}');
SELECT sqlstate_of('SELECT id FROM marketo.leads WHERE id = 9201');
SELECT emu_do('fault', '{"path": "/rest/v1/leads.json", "kind": "wrong_type", "field": "leadScore", "value": {"x": 1}}');
SELECT sqlstate_of('SELECT lead_score FROM marketo.leads WHERE id = 9201');
ALTER USER MAPPING FOR CURRENT_USER SERVER marketo OPTIONS (SET client_secret 'wrong-secret-value');
SELECT sqlstate_of('SELECT id FROM marketo.leads WHERE id = 9201');
ALTER USER MAPPING FOR CURRENT_USER SERVER marketo OPTIONS (SET client_secret 'emu-secret');

--
-- Client-side limits: the instance's rate and concurrency limits (shared
-- memory: the test cluster preloads marketo_fdw), the per-statement call
-- budget, and the call counters.
--
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA lim;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads, program_members) FROM SERVER marketo INTO lim;
SET client_min_messages = notice;

-- Shared mode: one row per instance, counted for all backends.
SELECT scope, regexp_replace(instance, ':[0-9]+$', ':PORT') AS instance FROM marketo_call_stats()
WHERE scope IN ('backend', 'instance') ORDER BY scope;

-- The emulator allows 4 calls per 2 s; so does the limiter.  7 calls
-- (650 members, pages of 100) wait for room instead of drawing 606s.
SELECT emu_do('add-members', '{"programId": 1046, "generate": 650, "statusName": "Registered", "startLeadId": 20001}');
SELECT emu_do('config', '{"rate_limit": 4, "rate_window": 2, "page_size": 100}');
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 4;
ALTER SYSTEM SET marketo_fdw.rate_window_ms = 2000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT emu_do('clear-calls');
SELECT count(*) FROM lim.program_members WHERE program_id = 1046;
SELECT count(*) AS calls, count(*) FILTER (WHERE error_code IS NOT NULL) AS errors
FROM emu_rest_calls();
SELECT waits > 0 AS waited, in_flight FROM marketo_call_stats() WHERE scope = 'instance';

-- Without the limiter's room the emulator's 606 would have come back: a
-- window of one call per 2 s there, four here, makes it retry.
SELECT emu_do('config', '{"rate_limit": 1}');
SELECT emu_do('clear-calls');
SELECT id FROM lim.leads WHERE id = 1001
UNION ALL SELECT id FROM lim.leads WHERE id = 1002 ORDER BY 1;
SELECT count(*) FILTER (WHERE error_code = '606') > 0 AS saw_606 FROM emu_rest_calls();
SELECT emu_do('config', '{"rate_limit": 100, "rate_window": 20, "page_size": 300}');
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
ALTER SYSTEM RESET marketo_fdw.rate_window_ms;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- EXPLAIN shows the planned calls, marking estimates; an estimate over
-- the budget refuses nothing (the budget stops the statement as it runs).
EXPLAIN (COSTS OFF)
SELECT id FROM lim.leads WHERE id = ANY (ARRAY(SELECT generate_series(1, 1000)));
EXPLAIN (COSTS OFF)
SELECT id FROM lim.leads WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20);
EXPLAIN (COSTS OFF)
SELECT lead_id FROM lim.program_members WHERE program_id IN (1044, 1045, 1046);
SET marketo_fdw.max_calls_per_statement = 10;
SELECT emu_do('clear-calls');
SELECT count(*) FROM lim.program_members WHERE program_id IN (1044, 1045, 1046);
SELECT count(*) AS calls FROM emu_rest_calls();

-- A statement that turns out bigger than planned stops at the budget.
SET marketo_fdw.max_calls_per_statement = 3;
SELECT emu_do('config', '{"page_size": 100}');
SELECT emu_do('clear-calls');
SELECT count(*) FROM lim.program_members WHERE program_id = 1046 AND status_name = 'Registered';
SELECT count(*) AS calls FROM emu_rest_calls();
SELECT emu_do('config', '{"page_size": 300}');
RESET marketo_fdw.max_calls_per_statement;

-- The instance-wide limits are set in the server's configuration only;
-- anyone sets the budget.
CREATE ROLE lim_user;
SET ROLE lim_user;
SET marketo_fdw.max_calls_per_window = 1000;
SET marketo_fdw.max_calls_per_statement = 50;
RESET ROLE;
DROP ROLE lim_user;

-- This backend's count, and Marketo's own usage report.
SELECT calls > 0 AS counted FROM marketo_call_stats() WHERE scope = 'backend';
SELECT date = (now() AT TIME ZONE 'UTC')::date AS today, total > 0 AS counted, user_id
FROM marketo_api_usage('marketo');

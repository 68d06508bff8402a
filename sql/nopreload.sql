--
-- Without shared_preload_libraries (run_tests.sh restarts the cluster for
-- this file): the library loads in the backend, the limits are kept per
-- backend, and everything else works the same.
--
SHOW shared_preload_libraries;
SET client_min_messages = warning;
SELECT emu_do('reset');
CREATE SCHEMA np;
IMPORT FOREIGN SCHEMA marketo LIMIT TO (leads) FROM SERVER marketo INTO np;
SET client_min_messages = notice;

SELECT emu_do('clear-calls');
SELECT id, email FROM np.leads WHERE id IN (1001, 1002) ORDER BY id;
SELECT method, path, query->>'filterValues' AS filter_values FROM emu_rest_calls();

-- The limiter's counts are this backend's own.
SELECT scope, regexp_replace(instance, ':[0-9]+$', ':PORT') AS instance, calls > 0 AS counted FROM marketo_call_stats() ORDER BY scope;

-- The per-backend limiter still spaces this backend's calls: the emulator
-- allows 2 calls per 2 s, and so does the limiter, so three calls draw no
-- 606.
SELECT emu_do('config', '{"rate_limit": 2, "rate_window": 2}');
ALTER SYSTEM SET marketo_fdw.max_calls_per_window = 2;
ALTER SYSTEM SET marketo_fdw.rate_window_ms = 2000;
SELECT pg_reload_conf();
SELECT pg_sleep(2.1);
SELECT emu_do('clear-calls');
SELECT id FROM np.leads WHERE id = 1001
UNION ALL SELECT id FROM np.leads WHERE id = 1002
UNION ALL SELECT id FROM np.leads WHERE id = 1003 ORDER BY 1;
SELECT count(*) AS calls, count(*) FILTER (WHERE error_code = '606') AS errors_606 FROM emu_rest_calls();
SELECT emu_do('config', '{"rate_limit": 100, "rate_window": 20}');
ALTER SYSTEM RESET marketo_fdw.max_calls_per_window;
ALTER SYSTEM RESET marketo_fdw.rate_window_ms;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- The shared-memory setting exists only when preloaded.
SHOW marketo_fdw.max_instances;
SHOW marketo_fdw.max_calls_per_statement;

SET client_min_messages = warning;
DROP SCHEMA np CASCADE;

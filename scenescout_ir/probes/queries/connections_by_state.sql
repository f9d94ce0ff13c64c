-- Scenario 2: SELECT state, count(*) FROM pg_stat_activity GROUP BY state;  (with who holds them)
SELECT coalesce(state, '(background)') AS state, usename, application_name, count(*) AS connections
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1, 2, 3
ORDER BY connections DESC
LIMIT 20

-- Performance Validation / Scenario 4: "SELECT query, mean_exec_time, calls, total_exec_time FROM
-- pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 20", for this database only, ranked both by
-- mean and by total time (a fast statement called a million times costs more than one slow one),
-- query text cut short. The counters cover every call since the last pg_stat_statements_reset().
WITH s AS (
    SELECT queryid,
           left(regexp_replace(query, '\s+', ' ', 'g'), 120) AS query,
           calls,
           round(mean_exec_time::numeric, 1) AS mean_ms,
           round(max_exec_time::numeric, 1) AS max_ms,
           round(total_exec_time::numeric, 1) AS total_ms,
           rows
    FROM {view}
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
)
(SELECT 'mean' AS ranked_by, * FROM s ORDER BY mean_ms DESC LIMIT %(top)s)
UNION ALL
(SELECT 'total' AS ranked_by, * FROM s ORDER BY total_ms DESC LIMIT %(top)s)

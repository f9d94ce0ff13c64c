-- SHOW max_connections; SELECT count(*) FROM pg_stat_activity;  -- counted against the slots clients can use
SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS client_backends,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved
FROM pg_stat_activity

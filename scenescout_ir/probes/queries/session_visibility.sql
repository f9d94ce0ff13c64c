-- May this role see the other sessions in pg_stat_activity? Without pg_read_all_stats (pg_monitor includes it;
-- a superuser has it) the rows of other roles' sessions show '<insufficient privilege>' and NULL state, query,
-- xact_start and backend_type: a stuck transaction, a blocking lock or a full connection table are invisible.
SELECT current_user AS role,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all_stats,
       count(*) FILTER (WHERE backend_type IS NULL AND usesysid IS NOT NULL) AS hidden_sessions
FROM pg_stat_activity

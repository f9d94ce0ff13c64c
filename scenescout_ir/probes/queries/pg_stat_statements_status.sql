-- Before "SELECT query, mean_exec_time, calls FROM pg_stat_statements ...": is the extension installed in
-- this database, and may this role read every statement's text (pg_read_all_stats, pg_monitor includes it)?
SELECT current_database() AS database,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS extversion,
       (SELECT nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE extname = 'pg_stat_statements') AS schema,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all_stats,
       current_setting('shared_preload_libraries') AS shared_preload_libraries

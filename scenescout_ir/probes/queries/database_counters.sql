-- The cumulative counters of this database behind the database-efficiency check: cache hits and reads,
-- temporary files, deadlocks and recovery conflicts (per kind; they happen only on a standby), with
-- what tells two snapshots of the same statistics apart from two of different ones.
SELECT d.datname AS database,
       d.blks_hit, d.blks_read, d.temp_files, d.temp_bytes, d.deadlocks, d.conflicts,
       c.confl_tablespace, c.confl_lock, c.confl_snapshot, c.confl_bufferpin, c.confl_deadlock,
       d.stats_reset, pg_postmaster_start_time() AS server_started, now() AS taken_at,
       pg_is_in_recovery() AS in_recovery
FROM pg_stat_database AS d
JOIN pg_stat_database_conflicts AS c ON c.datid = d.datid
WHERE d.datname = current_database()

-- Database Recovery: psql $DATABASE_URL -c "SELECT pg_is_in_recovery();"  (and, on a standby, how far
-- the replay has come: the last WAL position and transaction it replayed)
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_replay_lsn()::text AS last_replayed_lsn,
       pg_last_xact_replay_timestamp() AS last_replayed_transaction,
       round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1) AS replay_lag_s

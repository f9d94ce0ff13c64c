-- psql $DATABASE_URL -c "SELECT version();"  (Scenario 2), plus what the session was given
SELECT version() AS version,
       current_setting('server_version_num')::int AS server_version_num,
       pg_is_in_recovery() AS in_recovery,
       current_setting('transaction_read_only') AS read_only,
       current_setting('statement_timeout') AS statement_timeout

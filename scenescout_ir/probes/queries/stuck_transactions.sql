-- "Check for stuck transactions": active ones by transaction age, idle-in-transaction ones by how long
-- they have sat idle (the playbook's query_start misses both: it is reset by every statement). The suite's own
-- sessions are left out by their application_name, not only by pid: through a pooler in transaction mode each of
-- its transactions may run on another backend (and another worker of `-n 2` has its own).
SELECT pid, usename, application_name, state,
       round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_age_s,
       round(extract(epoch FROM now() - state_change)::numeric, 1) AS in_state_s,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND application_name IS DISTINCT FROM 'scenescout-ir'
  AND xact_start IS NOT NULL
  AND ((state = 'active' AND now() - xact_start > make_interval(secs => %(limit_s)s))
    OR (state LIKE 'idle in transaction%%' AND now() - state_change > make_interval(secs => %(limit_s)s)))
ORDER BY xact_start
LIMIT 50

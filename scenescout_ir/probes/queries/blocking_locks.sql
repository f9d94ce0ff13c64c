-- Scenario 4 "Check for blocking queries", via pg_blocking_pids (which also sees soft blocks: waiters
-- queued behind another waiter, that the playbook's pg_locks self-join misses) and pg_locks.waitstart.
SELECT blocked.pid AS blocked_pid,
       blocked.usename AS blocked_user,
       round(extract(epoch FROM now() - coalesce(
         (SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = blocked.pid AND NOT l.granted),
         blocked.query_start))::numeric, 1) AS waiting_s,
       left(blocked.query, 200) AS blocked_statement,
       blocking.pid AS blocking_pid,
       blocking.usename AS blocking_user,
       blocking.state AS blocking_state,
       round(extract(epoch FROM now() - blocking.xact_start)::numeric, 1) AS blocking_xact_s,
       left(blocking.query, 200) AS blocking_statement
FROM pg_stat_activity AS blocked
CROSS JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid)
JOIN pg_stat_activity AS blocking ON blocking.pid = b.pid
WHERE blocked.backend_type = 'client backend'
  AND blocked.application_name IS DISTINCT FROM 'scenescout-ir'  -- the suite's own sessions (by name: see stuck_transactions.sql)
ORDER BY waiting_s DESC
LIMIT 50

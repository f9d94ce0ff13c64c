-- Run integrity checks: the tables the playbook's loop walks (SELECT tablename FROM pg_tables
-- WHERE schemaname = 'public'), schema-qualified for the per-table count that follows.
SELECT schemaname || '.' || tablename AS table_name
FROM pg_tables
WHERE schemaname = 'public'
ORDER BY tablename

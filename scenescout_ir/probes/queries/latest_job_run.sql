-- Scenario 3 "Check ingestion function logs": the latest runs of one ingestion job, newest first, each
-- whole row for the evidence (its error column, whatever it is called).
SELECT {status_column}::text AS status, {time_column} AS started_at, to_jsonb(run) AS run
FROM {table} AS run
WHERE {name_column} = %(job)s
ORDER BY {time_column} DESC
LIMIT 3

-- Scenario 3 "Check ingestion function logs" (supabase functions logs ingest_<source> --limit 50): the latest
-- runs of one ingestion job, newest first, each whole row for the evidence (its error column, whatever its name).
SELECT {status_column}::text AS status, {time_column} AS started_at, to_jsonb(run) AS run
FROM {table} AS run
WHERE {name_column} = %(job)s
ORDER BY {time_column} DESC
LIMIT %(limit)s

-- "Check event ingestion status", per source: its newest row through the (source, timestamp) index,
-- instead of the playbook's GROUP BY over the whole table.
SELECT {timestamp_column} AS last_event_time,
       round(extract(epoch FROM now() - {timestamp_column})::numeric, 1) AS age_s
FROM {table}
WHERE {source_column} = %(source)s AND {timestamp_column} IS NOT NULL
ORDER BY {timestamp_column} DESC
LIMIT 1

-- Verify event ingestion resumed: new rows of one source since the given time (default: 15 minutes
-- ago), counted up to 1000 through the (source, timestamp) index, and the newest row's time.
WITH bound AS (SELECT coalesce(%(since)s::timestamptz, now() - interval '15 minutes') AS since)
SELECT (SELECT count(*) FROM (
          SELECT 1 FROM {table}
          WHERE {source_column} = %(source)s AND {timestamp_column} >= bound.since
          LIMIT 1000) AS capped) AS new_events,
       (SELECT max({timestamp_column}) FROM {table} WHERE {source_column} = %(source)s) AS newest,
       bound.since AS since
FROM bound

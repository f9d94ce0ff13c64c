-- Is there a usable index whose leading key columns are (source, created_at) on the events table? A plan
-- that reads every row is only a missing index when there is none: on a small table the planner may
-- rightly prefer reading it all.
SELECT i.indexrelid::regclass::text AS index_name,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index AS i
WHERE i.indrelid = %(table)s::regclass
  AND i.indisvalid
  AND i.indpred IS NULL
  AND i.indnkeyatts >= 2
  AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid AND attname = %(source_column)s)
  AND i.indkey[1] = (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid AND attname = %(timestamp_column)s)

-- Is the duplicate key already enforced? A valid, non-partial unique index on exactly these columns
-- (in any order) makes duplicates impossible, and saves the GROUP BY over the whole table.
SELECT i.indexrelid::regclass::text AS index_name
FROM pg_index AS i
WHERE i.indrelid = to_regclass(%(table)s)
  AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
  AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
       FROM unnest(i.indkey::int2[]) AS k(attnum)
       JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
    = (SELECT array_agg(c ORDER BY c) FROM unnest(%(columns)s::text[]) AS c)
LIMIT 1

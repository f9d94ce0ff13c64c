-- Verify data integrity: the same event ingested twice (the same key more than once), worst first, with
-- the number of such keys in all.
SELECT {key_columns}, count(*) AS copies, count(*) OVER () AS duplicated_keys
FROM {table}
GROUP BY {key_columns}
HAVING count(*) > 1
ORDER BY copies DESC
LIMIT 20

-- Transaction ID wraparound: how old each database's oldest unfrozen transaction ID is, against the 2^31 horizon
-- at which PostgreSQL stops accepting writes (pg_database is readable by every role; nothing is scanned)
SELECT datname AS database,
       age(datfrozenxid)::bigint AS xid_age,
       2147483648::bigint AS horizon
FROM pg_database
ORDER BY age(datfrozenxid) DESC

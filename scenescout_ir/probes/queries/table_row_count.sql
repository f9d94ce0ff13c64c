-- Run integrity checks: EXECUTE 'SELECT count(*) FROM ' || tbl;  one table per statement, so each has its
-- own statement_timeout and its own error. Reads every page of the table: that is the integrity check.
SELECT count(*) AS row_count FROM {table}

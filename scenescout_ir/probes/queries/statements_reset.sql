-- Since when pg_stat_statements has counted (PostgreSQL 14+): the window its means cover.
SELECT stats_reset, dealloc FROM {info}

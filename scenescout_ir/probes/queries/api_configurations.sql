-- API Rate Limiting: which sources are switched off (UPDATE api_configurations SET enabled = false ...).
SELECT {source_column}::text AS source, {enabled_column} AS enabled, to_jsonb(config) AS config
FROM {table} AS config
ORDER BY 1

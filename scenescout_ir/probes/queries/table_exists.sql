-- Does the deployment have this table at all (SceneScout's own schema has no api_configurations)?
SELECT to_regclass(%(table)s) IS NOT NULL AS present

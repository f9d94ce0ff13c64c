"""SceneScout incident response: the playbook's checks as pytest, with a severity verdict."""

__version__ = "0.1.0"

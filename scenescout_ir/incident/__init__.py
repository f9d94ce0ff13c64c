"""The incident: its log, the post-mortem draft and notifications.

May import core and judge."""

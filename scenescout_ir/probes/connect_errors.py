"""Why a database connection failed, from libpq's words: the phase (DNS, pooler, TCP, TLS, authentication...),
whether it is the suite's own problem (blind), and the words a person acts on. The database probe (db.py) owns it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Why a connection attempt failed, in the order libpq meets the problems: (patterns in the lowered error, the
# phase that failed, whether it is the suite's own problem ("blind"), the words a person acts on).
# Blind: the suite cannot see the database because of its own DSN, credentials or TLS settings; nothing
# says the database is down, so it is not an incident (but never a silent OK: see README, "CI gate").
# Not blind: the server is down or refuses everyone: an incident.
_CONNECT_FAILURES: tuple[tuple[tuple[str, ...], str, bool, str], ...] = (
    (("failed to resolve host", "could not translate host name"),
     "dns", True, "the DSN's host name does not resolve: most likely a typo in it (or the suite's name server "
     "is unreachable)"),
    # a connection pooler (PgBouncer, Supavisor) refusing the suite's connection: its own configuration, not the
    # database (PgBouncer's default configuration refuses an `options` startup parameter in the DSN, and knows only
    # the databases of its [databases] section)
    (("unsupported startup parameter",),
     "pooler", True, "the connection pooler refuses a startup parameter of the DSN (such as options=...): remove it "
     "from the DSN (the suite sets its own bounds in each transaction) or add it to the pooler's "
     "ignore_startup_parameters"),
    (("no such database", "tenant or user not found"),
     "pooler", True, "the connection pooler does not know the DSN's database (or user): name a database of its "
     "[databases] section (Supavisor: the user as user.project-ref)"),
    (("is not set", "is malformed", "invalid connection option", "invalid uri", 'missing "="', "invalid port",
      "invalid integer value", "invalid value for parameter", r"invalid \w+ value", "invalid connection string"),
     "configuration", True, "the DSN itself is wrong (unset, malformed, or an impossible port or option)"),
    (("received invalid response to ssl negotiation", "unsupported frontend protocol", "invalid response"),
     "tls", True, "something other than PostgreSQL answers on that port: the DSN's port is most likely wrong"),
    (("password authentication failed", "no password supplied", "authentication failed", "pg_hba.conf",
      "not permitted to log in", "permission denied for database", "scram"),
     "authentication", True, "the credentials are refused (a rotated password or a wrong role)"),
    (("does not exist",),
     "authentication", True, "the database or role named in the DSN does not exist"),
    (("ssl syscall error", "closed the connection", "terminating connection", "connection reset"),
     "startup", False, "the server (or a proxy in front of it) accepts and drops connections"),
    (("server does not support ssl", "ssl", "certificate"),
     "tls", True, "the TLS handshake failed: the DSN's sslmode/sslrootcert do not match the server"),
    (("too many clients", "remaining connection slots", "too many connections"),
     "startup", False, "every connection slot is taken"),
    (("shutting down",), "startup", False, "the server is shutting down"),
    (("starting up", "recovery mode", "not yet accepting", "not accepting connections"),
     "startup", False, "the server is starting up or in recovery"),
    (("refused",), "tcp", False, "nothing listens on the database port: the server is down"),
    (("timeout", "timed out", "no answer"),
     "tcp", False, "the server does not answer in time: hung, overloaded, or the network drops packets"),
    (("no route to host", "network is unreachable", "host is unreachable"),
     "tcp", False, "the network to the database is down"),
)


@dataclass(frozen=True)
class ConnectFailure:
    """Where a connection attempt failed and whose problem it is."""

    phase: str  # configuration | dns | pooler | tcp | tls | authentication | startup | connect | first query
    blind: bool  # the suite's own DSN/credentials/TLS settings: it cannot see the database, not an incident
    diagnosis: str


def classify_connect_error(error: str) -> ConnectFailure:
    """The phase a connection error comes from (DNS, TCP, TLS, authentication...), from libpq's words."""
    lowered = error.lower()
    for keys, phase, blind, words in _CONNECT_FAILURES:
        if any(re.search(key, lowered) for key in keys):
            return ConnectFailure(phase, blind, words)
    return ConnectFailure("connect", False, "the connection failed")


def diagnose_database_error(error: str) -> str:
    """A connection error in words a person acts on (Scenario 2)."""
    return classify_connect_error(error).diagnosis

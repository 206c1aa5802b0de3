"""A stateful sandbox of the slice of Twilio's REST API (v2010) that DentSignal uses.

A development and test tool, not product code: production settings never import it
(it is an installed app only with TWILIO_SANDBOX=true, which scripts/dev and the test
settings set). It is a separate service, as Twilio is: a WSGI app (app.py) over a
SQLite file (store.py), served by server.py or `manage.py twilio_sandbox`. It has no
Django dependency, so importing these constants is cheap.
"""

# Fixed credentials of the sandbox account. They are published in this repository, so
# anything signed with them proves nothing: never configure them in production.
SANDBOX_ACCOUNT_SID = "AC" + "5a4db0c0" * 4
SANDBOX_AUTH_TOKEN = "sandbox-auth-token-0123456789abc"  # noqa: S105 - sandbox only

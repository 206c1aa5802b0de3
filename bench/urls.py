"""The project's URLs plus the benchmark's two references on the same server:

- baseline: the cheapest possible Django answer, a constant TwiML string;
- one-write: the same answer after one INSERT of a call-log row, the least that any
  webhook which durably records each request must do (no form parsing, no signature).
"""

import uuid

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dentsignal.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401
from telephony.models import CallLog

BASELINE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello</Say></Response>'
ONE_WRITE_SQL = (
    f"INSERT INTO {CallLog._meta.db_table}"  # noqa: S608 - a table name from the model; the value is a parameter
    " (call_sid, from_number, to_number, direction, status, status_rank, created_at, updated_at)"
    " VALUES (%s, '', '', 'inbound', 'ringing', 0, now(), now())"
)


@csrf_exempt
def baseline(request: HttpRequest) -> HttpResponse:
    """A constant TwiML string: no signature check, no database."""
    return HttpResponse(BASELINE_TWIML, content_type="text/xml")


@csrf_exempt
def one_write(request: HttpRequest) -> HttpResponse:
    """The baseline after one fixed INSERT (a new call-log row with a random SID)."""
    with connection.cursor() as cursor:
        cursor.execute(ONE_WRITE_SQL, ["CA" + uuid.uuid4().hex])
    return HttpResponse(BASELINE_TWIML, content_type="text/xml")


urlpatterns = [path("bench/baseline", baseline), path("bench/one-write", one_write), *urlpatterns]

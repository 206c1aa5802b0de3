"""The project's URLs plus the benchmark's baseline: the cheapest possible Django answer."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dentsignal.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

BASELINE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello</Say></Response>'


@csrf_exempt
def baseline(request: HttpRequest) -> HttpResponse:
    """A constant TwiML string: no signature check, no database."""
    return HttpResponse(BASELINE_TWIML, content_type="text/xml")


urlpatterns = [path("bench/baseline", baseline), *urlpatterns]

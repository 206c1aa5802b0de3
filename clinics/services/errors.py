"""The application errors of the clinics services: a change refused, with a sentence saying why.

Callers tell them apart to answer well (the admin API: 404 for ClinicNotFound, 400 for
ClinicInputError, else 409); staff read the message.
"""


class ClinicNumberError(Exception):
    """A change of a clinic's number that is not allowed now; the message says why."""


class ClinicNotFound(ClinicNumberError):
    """No clinic has the given id."""


class ClinicInputError(ClinicNumberError):
    """The input is not valid (area code, number); nothing was changed."""


class NumberTaken(ClinicNumberError):
    """Another clinic has reserved or holds this number."""


class AlreadyReleased(ClinicNumberError):
    """The release asked for has already been done (a repeated task)."""


class MoveClaimed(ClinicNumberError):
    """Another run is moving this clinic's number right now."""

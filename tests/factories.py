"""factory_boy factories for the clinic domain."""

import factory

from clinics.models import Clinic, NumberState


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Smile Dental {n}")
    office_phone = "+15125550100"


class ActiveClinicFactory(ClinicFactory):
    """A clinic in Austin's zone holding an active number in its own subaccount (no Twilio involved)."""

    time_zone = "America/Chicago"
    twilio_number = factory.Sequence(lambda n: f"+1512556{n % 10000:04d}")
    twilio_number_sid = factory.Sequence(lambda n: f"PN{n:032d}")
    twilio_account_sid = factory.Sequence(lambda n: f"AC{n:032d}")
    number_state = NumberState.ACTIVE

"""factory_boy factories for the clinic domain."""

import factory

from clinics.models import Clinic


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Smile Dental {n}")
    office_phone = "+15125550100"

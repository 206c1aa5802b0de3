"""Django admin for clinics: this file registers each admin; the modules hold them.

    clinic.py        ClinicAdmin: the list's columns, filters and search, the clinic page's
                     fields and buttons, and the permission behind each power
    onboarding.py    the clinic page's Onboarding section (next step, checklist, test call)
    actions.py       the clinic list's actions, one @admin.action function each
    views.py         the clinic page's buttons (custom URLs)
    pages.py         the pages an action and a button share (Provision number, Release number)
    outcomes.py      each clinic's outcome told to staff, the same from an action or a button
    patients.py      PatientAdmin, AppointmentAdmin
    a2p.py           the business profile and the A2P 10DLC registration
    history.py       Number history: every clinic's number events, deleted clinics' included
    access.py        AccessRecordAdmin: the access log, read and exported by superusers only
    phone_search.py  the list search that finds a phone number typed in any format

The admin is a surface: it hands the work to the workflows (telephony.numbers, telephony.a2p),
which change the clinic's state and send the tasks; it never sends tasks itself.
"""

from django.contrib import admin

from ..models import Appointment, Clinic, NumberEvent, Patient
from ..models_a2p import A2PRegistration, BusinessProfile
from ..models_access import AccessRecord
from .a2p import A2PRegistrationAdmin, BusinessProfileAdmin
from .access import AccessRecordAdmin
from .clinic import ClinicAdmin
from .history import NumberEventAdmin
from .patients import AppointmentAdmin, PatientAdmin

admin.site.register(Clinic, ClinicAdmin)
admin.site.register(Patient, PatientAdmin)
admin.site.register(Appointment, AppointmentAdmin)
admin.site.register(BusinessProfile, BusinessProfileAdmin)
admin.site.register(A2PRegistration, A2PRegistrationAdmin)
admin.site.register(NumberEvent, NumberEventAdmin)
admin.site.register(AccessRecord, AccessRecordAdmin)

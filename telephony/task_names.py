"""Every Celery task's name, in one place.

Workflows send tasks by these names (telephony/queue.py) instead of importing
telephony.tasks, which sits above them in the layers; telephony/tasks.py registers each
task under its name here, and the beat schedule and the queue routes in settings name
them too. tests/telephony/test_task_names.py checks that the names here and the
registered tasks are the same set, and that every beat entry and route names one.
"""

PROVISION_NUMBER = "telephony.tasks.provision_number"
RELEASE_NUMBER = "telephony.tasks.release_number"
RELEASE_CLINIC_NUMBER = "telephony.tasks.release_clinic_number"
UPDATE_NUMBER_WEBHOOKS = "telephony.tasks.update_number_webhooks"
ADOPT_ORPHAN_NUMBER = "telephony.tasks.adopt_orphan_number"
MOVE_NUMBER_TO_SUBACCOUNT = "telephony.tasks.move_number_to_subaccount"
RUN_NUMBER_AUDIT = "telephony.tasks.run_number_audit"
NUMBER_AUDIT_SWEEP = "telephony.tasks.number_audit_sweep"
CLINIC_NUMBER_AUDIT = "telephony.tasks.clinic_number_audit"
REFRESH_CLINIC_USAGE = "telephony.tasks.refresh_clinic_usage"
REFRESH_ALL_USAGE = "telephony.tasks.refresh_all_usage"
SEND_APPOINTMENT_REMINDER = "telephony.tasks.send_appointment_reminder"
REDRIVE_STUCK_CLINICS = "telephony.tasks.redrive_stuck_clinics"
REPLAY_FALLBACK_SMS = "telephony.tasks.replay_fallback_sms"
REFRESH_ACCOUNT_TOKENS = "telephony.tasks.refresh_account_tokens"
REFRESH_OFFICE_LINES = "telephony.tasks.refresh_office_lines"
A2P_REGISTRATION_ADVANCE = "telephony.tasks.a2p_registration_advance"
A2P_REGISTRATION_POLL = "telephony.tasks.a2p_registration_poll"
A2P_REGISTRATIONS_POLL = "telephony.tasks.a2p_registrations_poll"
HOSTED_ORDER_PLACE = "telephony.tasks.hosted_order_place"
HOSTED_ORDERS_POLL = "telephony.tasks.hosted_orders_poll"
PORTS_IN_POLL = "telephony.tasks.ports_in_poll"
REDACT_EXPIRED_RECORDS = "telephony.tasks.redact_expired_records"


def all_task_names() -> frozenset[str]:
    """Every name above."""
    return frozenset(value for key, value in globals().items() if key.isupper() and isinstance(value, str))

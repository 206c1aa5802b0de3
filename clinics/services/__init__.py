"""The clinics services: every state change of a clinic, one small function each.

One module per concern:

    number_state.py  the number's state machine (none -> provisioning -> active ->
                     releasing -> released, failed), with its diagram
    checklist.py     the onboarding checklist of the current run
    onboarding_path.py  the onboarding path (new number, forward, ...) and the forward path's evidence
    hosted.py        the hosted SMS order of the text-enable path: intent, statuses, completion
    port_in.py       the port-in requests of the published number, and the completed port
    redrive.py       the clinics whose number work must be sent to the task queue again
    accounts.py      the clinic's own Twilio subaccount: create, token, status, move into it
    usage.py         this month's usage of the subaccount
    patient_data.py  a departed clinic's patient data: the download, and the purge after the retention period
    a2p.py           the A2P 10DLC registration records
    access.py        the access log: who was shown which patients' data
    reminders.py     what became of an appointment's reminder
    errors.py        the errors a refused change raises (ClinicNumberError and its kinds)
    rows.py          the locked clinic row and the history row (used by the modules above)

Callers outside this package import the names below from `clinics.services`
(`from clinics import services as clinic_services`, `clinic_services.<name>`), never from
a module of it: where a function lives inside the package is this package's business.
The modules import each other directly, never this file. Nothing here imports telephony.
"""

from .a2p import (
    RECREATING,
    A2PError,
    a2p_campaign_forget,
    a2p_campaign_recreate_intent,
    a2p_messaging_block,
    a2p_number_changed,
    a2p_polled,
    a2p_profile_missing,
    a2p_registration_start,
    a2p_registrations_pending,
    a2p_resubmit_request,
    a2p_step_fail,
    a2p_step_intent,
    a2p_step_record,
)
from .access import PATIENT_DATA_MODELS, access_record_write
from .accounts import (
    MOVE_DONE,
    MOVE_FAILED,
    MOVE_REQUESTED,
    MOVE_TRANSFERRED,
    MOVE_UNDER_WAY,
    SubaccountIntent,
    clinic_number_move_claim,
    clinic_number_move_request,
    clinic_number_move_step,
    clinic_subaccount_intend,
    clinic_subaccount_intent_clear,
    clinic_subaccount_save,
    clinic_subaccount_status_saved,
    clinic_subaccount_token_update,
)
from .checklist import clinic_checklist_tick, clinic_checklist_untick
from .deletion import clinic_delete
from .errors import AlreadyReleased, ClinicInputError, ClinicNotFound, ClinicNumberError, MoveClaimed, NumberTaken
from .hosted import (
    HOSTED_ACTION_REQUIRED,
    HOSTED_COMPLETED,
    HOSTED_FAILED,
    clinic_voice_number_released,
    hosted_order_cancelled,
    hosted_order_complete,
    hosted_order_intend,
    hosted_order_record,
    hosted_orders_following,
)
from .number_state import (
    clinic_number_activate,
    clinic_number_adopt,
    clinic_number_provision_begin,
    clinic_number_provision_fail,
    clinic_number_provision_request,
    clinic_number_release_begin,
    clinic_number_release_fail,
    clinic_number_release_request,
    clinic_number_released,
    clinic_number_requestable,
    clinic_number_reserve,
    clinic_number_unreserve,
    clinic_number_webhooks_saved,
    number_orphan_release_request,
)
from .onboarding_path import clinic_forwarded_call_record, clinic_forwarding_confirm, clinic_onboarding_path_set
from .patient_data import (
    clinic_patient_data_exportable,
    clinic_patient_data_exported,
    clinic_patient_data_purge,
    clinic_patient_data_purge_lock,
)
from .port_in import (
    port_in_complete,
    port_in_intend,
    port_in_recorded,
    port_in_refused,
    port_in_temporary_forget,
    ports_in_open,
)
from .redrive import clinic_send_failed_mark, clinics_stuck_claim
from .reminders import appointment_reminder_outcome_record
from .usage import clinic_usage_fail, clinic_usage_save, clinic_usages_save

__all__ = [
    "HOSTED_ACTION_REQUIRED",
    "HOSTED_COMPLETED",
    "HOSTED_FAILED",
    "MOVE_DONE",
    "MOVE_FAILED",
    "MOVE_REQUESTED",
    "MOVE_TRANSFERRED",
    "MOVE_UNDER_WAY",
    "PATIENT_DATA_MODELS",
    "RECREATING",
    "A2PError",
    "AlreadyReleased",
    "ClinicInputError",
    "ClinicNotFound",
    "ClinicNumberError",
    "MoveClaimed",
    "NumberTaken",
    "SubaccountIntent",
    "a2p_campaign_forget",
    "a2p_campaign_recreate_intent",
    "a2p_messaging_block",
    "a2p_number_changed",
    "a2p_polled",
    "a2p_profile_missing",
    "a2p_registration_start",
    "a2p_registrations_pending",
    "a2p_resubmit_request",
    "a2p_step_fail",
    "a2p_step_intent",
    "a2p_step_record",
    "access_record_write",
    "appointment_reminder_outcome_record",
    "clinic_checklist_tick",
    "clinic_checklist_untick",
    "clinic_delete",
    "clinic_forwarded_call_record",
    "clinic_forwarding_confirm",
    "clinic_number_activate",
    "clinic_number_adopt",
    "clinic_number_move_claim",
    "clinic_number_move_request",
    "clinic_number_move_step",
    "clinic_number_provision_begin",
    "clinic_number_provision_fail",
    "clinic_number_provision_request",
    "clinic_number_release_begin",
    "clinic_number_release_fail",
    "clinic_number_release_request",
    "clinic_number_released",
    "clinic_number_requestable",
    "clinic_number_reserve",
    "clinic_number_unreserve",
    "clinic_number_webhooks_saved",
    "clinic_onboarding_path_set",
    "clinic_patient_data_exportable",
    "clinic_patient_data_exported",
    "clinic_patient_data_purge",
    "clinic_patient_data_purge_lock",
    "clinic_send_failed_mark",
    "clinic_subaccount_intend",
    "clinic_subaccount_intent_clear",
    "clinic_subaccount_save",
    "clinic_subaccount_status_saved",
    "clinic_subaccount_token_update",
    "clinic_usage_fail",
    "clinic_usage_save",
    "clinic_usages_save",
    "clinic_voice_number_released",
    "clinics_stuck_claim",
    "hosted_order_cancelled",
    "hosted_order_complete",
    "hosted_order_intend",
    "hosted_order_record",
    "hosted_orders_following",
    "number_orphan_release_request",
    "port_in_complete",
    "port_in_intend",
    "port_in_recorded",
    "port_in_refused",
    "port_in_temporary_forget",
    "ports_in_open",
]

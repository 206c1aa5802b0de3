"""Development only (TWILIO_SANDBOX=true): the clinic page's buttons that do what Twilio and
the losing carrier would do next to a port-in request or a hosted SMS order, so a newcomer
walks each path to go-live from the clinic page (`scripts/dev`) without the control API.

Each move asks the sandbox's control API (telephony.sandbox_control: `port-in-status`,
`port-in-number-status`, `hosted-order-status`), then runs the app's own check (the
"Check the port now" / "Check the texting order" workflows), so the page shows what the
app's real code path made of it. The moves offered follow the statuses of Twilio's port-in
guide (In Review, Waiting for Signature, In Progress, Action Required, Completed; per number
`rejection_reason`, `rejection_reason_code`: numbers v1 spec, PortIn PhoneNumber) and of the
HostedNumberOrder (numbers v2 spec: twilio-processing, received, pending-loa, ...).
"""

from __future__ import annotations

from django.conf import settings

from clinics import services as clinic_services
from clinics.models import HostedOrder
from clinics.models_porting import NumberPortIn, PortInState
from telephony.numbers import hosted, porting_in
from telephony.sandbox_control import sandbox_control_post

# What the losing carrier says when the account number does not match its record (the
# commonest rejection); the reason is what staff read, the code an operator's detail.
REJECTION_REASON = "Account number does not match"
REJECTION_CODE = 6010

# move -> (the button's words, the port's states in which it is offered)
PORT_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "send-loa": ("Send the authorization to sign (sandbox)", (PortInState.IN_REVIEW,)),
    "sign": ("Sign the authorization (sandbox)", (PortInState.WAITING_FOR_SIGNATURE,)),
    "reject": ("Reject the port: account number mismatch (sandbox)", (PortInState.IN_PROGRESS,)),
    "complete": ("Complete the port (sandbox)", (PortInState.IN_PROGRESS,)),
}

# A hosted order's next meaningful status, as Twilio moves it: received -> pending-loa (the
# authorization to sign) -> carrier-processing -> completed. Verification and testing, when
# set from elsewhere, move on to the step after them.
HOSTED_NEXT = {
    "twilio-processing": "received",
    "received": "pending-loa",
    "pending-verification": "verified",
    "verified": "pending-loa",
    "pending-loa": "carrier-processing",
    "carrier-processing": "completed",
    "testing": "completed",
}
HOSTED_MOVE_LABEL = "Move the texting order on (sandbox)"


def port_moves_offered(port: NumberPortIn | None) -> list[tuple[str, str]]:
    """(move, words) of the port's sandbox buttons now; none outside the sandbox."""
    if port is None or not settings.TWILIO_SANDBOX or not port.request_sid:
        return []
    return [(move, words) for move, (words, states) in PORT_MOVES.items() if port.state in states]


def port_move(*, port_in_id: int, move: str) -> NumberPortIn:
    """Do `move` at the sandbox as Twilio or the losing carrier would, then check the port
    (the app's own refresh). ClinicInputError (a sentence) when the move is not offered now."""
    port = NumberPortIn.objects.get(pk=port_in_id)
    if move not in dict(port_moves_offered(port)):
        said = PORT_MOVES[move][0].removesuffix(" (sandbox)").lower() if move in PORT_MOVES else "that"
        raise clinic_services.ClinicInputError(
            f"The port is {port.get_state_display().lower()}: {said} is not the next step now. Check the port first."
        )
    if move == "reject":
        payload: dict[str, object] = {
            "sid": port.number_sid,
            "status": "rejected",
            "rejection_reason": REJECTION_REASON,
            "rejection_reason_code": REJECTION_CODE,
        }
        sandbox_control_post("port-in-number-status", payload, error=clinic_services.ClinicInputError)
    else:
        status = {"send-loa": "waiting_for_signature", "sign": "in_progress", "complete": "completed"}[move]
        sandbox_control_post(
            "port-in-status", {"sid": port.request_sid, "status": status}, error=clinic_services.ClinicInputError
        )
    return porting_in.port_in_refresh(port_in_id=port.id)


def hosted_move_offered(order: HostedOrder | None) -> bool:
    """Whether the texting order has a next status the sandbox can move it to now."""
    return settings.TWILIO_SANDBOX and order is not None and bool(order.sid) and order.status in HOSTED_NEXT


def hosted_move(*, clinic_id: int) -> HostedOrder:
    """Move the clinic's texting order to its next status at the sandbox, then check it (the
    app's own poll). ClinicInputError (a sentence) when it has no next status."""
    order = HostedOrder.objects.filter(clinic_id=clinic_id).first()
    if not hosted_move_offered(order):
        where = f"is {order.status_words}" if order is not None else "does not exist yet"
        raise clinic_services.ClinicInputError(f"The texting order {where}: there is no next step to move it to.")
    assert order is not None  # hosted_move_offered is False without one
    payload = {"sid": order.sid, "status": HOSTED_NEXT[order.status]}
    sandbox_control_post("hosted-order-status", payload, error=clinic_services.ClinicInputError)
    return hosted.hosted_order_poll(clinic_id=clinic_id)

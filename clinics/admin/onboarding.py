"""The clinic page's Onboarding section: the next step, the checklist of the current run,
and whether a test call reached the AI agent. Each is HTML for one read-only field of
ClinicAdmin (like a2p.py's pipeline for the texting registration)."""

from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from telephony.models import CallAnswer, CallLog
from telephony.numbers import hosted
from telephony.numbers import search as number_search
from telephony.webhooks import calls

from ..dates import datetime_for_people
from ..models import STATE_STEPS, TWILIO_HIPAA_URL, Clinic, HostedOrder, OnboardingPath, OnboardingStep
from ..phone import phone_format_national
from ..selectors import CHECKLIST_TOTAL, clinic_checklist, clinic_next_step
from .outcomes import sentence_html
from .pages import KEEP_NUMBER_PERMISSION
from .port_in import port_in_html


def _hosted_order(clinic: Clinic) -> HostedOrder | None:
    return HostedOrder.objects.filter(clinic=clinic).first() if clinic.pk else None


def next_step_html(clinic: Clinic) -> str:
    """The clinic's next human step (clinics.selectors.clinic_next_step), its lead in bold;
    on the text-enable path, until its number is text-enabled, the hosted order's next action
    when the order waits for a person (else the forwarding target's steps go on meanwhile)."""
    if clinic.onboarding_path == OnboardingPath.TEXT_ENABLE and not clinic.texting_hosted:
        refused = hosted.hosted_sms_disabled_reason()
        order = _hosted_order(clinic)
        if refused or hosted.hosted_order_needs_person(order):
            action = refused or hosted.hosted_next_action(clinic, order)
            return format_html("<strong>{}</strong> {}", "Text-enable:", action)
    step = clinic_next_step(clinic=clinic, retry_helps=number_search.provision_retry_helps(clinic.number_error_code))
    text = sentence_html(step.text)
    return format_html("<strong>{}</strong> {}", step.lead, text) if step.lead else text


def standing_html(clinic: Clinic) -> str:
    """One line: the clinic's path, its checklist count, and the next human action."""
    return format_html(
        "<p class='standing'>{} · {}/{} done · next: {}</p>",
        OnboardingPath(clinic.onboarding_path).label,
        clinic.checklist_done,
        CHECKLIST_TOTAL,
        next_step_html(clinic),
    )


def checklist_html(clinic: Clinic) -> str:
    """The steps of the current run, done (when, by whom, an Untick link for a user who may)
    or still to do (after which steps)."""
    if clinic.pk is None:
        return "—"
    steps = clinic_checklist(clinic=clinic)
    rows = []
    for step in steps:
        if step["done"]:
            status = f"done {datetime_for_people(step['done_at'], clinic.time_zone)} by {step['done_by']}"
            if step["step"] == OnboardingStep.PUBLISHED_LINE and step["note"]:
                status += f": {step['note']}"  # the evidence: a forwarded call, or who confirmed
            untick = reverse("admin:clinics_clinic_untick", args=[clinic.pk, step["step"]])
            action: str = (
                format_html(' <a href="{}" class="untick-link" data-step="{}">Untick…</a>', untick, step["step"])
                if getattr(clinic, "can_untick", False) and step["step"] not in STATE_STEPS
                else ""
            )
        elif step["waiting_for"]:
            status = f"to do, after: {', '.join(step['waiting_for'])}"
            action = ""
        else:
            status = "to do (tick it with the button above)" if step["manual"] else "to do"
            action = ""
        if step["step"] == OnboardingStep.HIPAA_CONFIRMED:
            # Checked in Twilio's Console (a signed BAA, the account flagged HIPAA): its page, one click away.
            action = format_html(
                ' <a href="{}" target="_blank" rel="noopener" class="hipaa-link">Twilio: HIPAA accounts</a>{}',
                TWILIO_HIPAA_URL,
                action,
            )
        rows.append(("✔" if step["done"] else "☐", step["step"], step["label"], status, action))
    return format_html(
        "{}<p><strong>{}/{}</strong> done · run {} since {}</p><ol class='checklist'>{}</ol>"
        "<p><small>Earlier runs' ticks and unticks stay in the number history (History button).</small></p>",
        standing_html(clinic),
        sum(1 for step in steps if step["done"]),
        CHECKLIST_TOTAL,
        clinic.checklist_run,
        datetime_for_people(clinic.checklist_run_started_at, clinic.time_zone),
        format_html_join("", "<li data-step='{1}'>{0} {2} <small>({3})</small>{4}</li>", rows),
    )


def test_call_html(clinic: Clinic) -> str:
    """Whether a test call reached the AI agent; if not, why, linking to that call."""
    if clinic.pk is None:
        return "—"
    if clinic.checklist_items.filter(step=OnboardingStep.TEST_INBOUND_CALL).exists():
        return "The AI agent answered a test call (its stream started)."
    call = calls.call_test_latest(clinic_id=clinic.pk)
    if call is None:
        return "No test call yet. The step is ticked when the AI agent's stream starts for a call to this number."
    return format_html(
        '<a href="{}" class="test-call-link">Last test call</a> ({}): {}',
        reverse("admin:telephony_calllog_changelist") + "?q=" + call.call_sid,
        datetime_for_people(call.created_at, clinic.time_zone),
        _test_call_outcome(call),
    )


def _test_call_outcome(call: CallLog) -> str:
    if call.answered_by != CallAnswer.AGENT:
        place = "the office line" if call.answered_by == CallAnswer.OFFICE_LINE else "a spoken message"
        return f"reached {place}, not the agent: {call.fallback_reason or 'the agent was not used'}."
    if call.stream_started_at is not None:
        return "the AI agent answered."
    if call.stream_error:
        return f"handed to the AI agent, whose stream failed: {call.stream_error}."
    return "handed to the AI agent, but Twilio has not reported its stream as started."


# Carrier-neutral forwarding codes, by the kind of line the published number is. Sources:
# Verizon's "Call Forwarding" support page (verizonwireless.com: *72 + number, *73 off);
# US landline companies' feature-code pages (e.g. georgia-broadband.com, champlaintechnology.com:
# *72/*73 all calls, *90/*91 busy, *92/*93 no answer); the GSM codes AT&T Wireless and
# T-Mobile use (3GPP TS 22.030; T-Mobile Business guide on veradial.com: **21* all,
# **61* no answer, **67* busy, ##002# all off). Carriers vary: the page says to check theirs.
FORWARDING_CODES = (
    (
        "Landline, and Verizon",
        "*72{n}",
        "*92{n} (no answer) and *90{n} (busy); on Verizon Wireless, *71{n}",
        "*73 (and *93, *91 for no answer and busy)",
    ),
    ("AT&T Wireless, T-Mobile (GSM mobiles)", "**21*{n}#", "**61*{n}# (no answer) and **67*{n}# (busy)", "##002#"),
)


def onboarding_path_html(clinic: Clinic) -> str:
    """The clinic's onboarding path in one line and, to forward, how to set the forwarding
    at the published line's carrier, with the codes most US carriers use."""
    if clinic.pk is None:
        return "—"
    path = OnboardingPath(clinic.onboarding_path).label
    if clinic.onboarding_path == OnboardingPath.TEXT_ENABLE:
        return _text_enable_html(clinic, path)
    if clinic.onboarding_path == OnboardingPath.PORT_IN:
        return port_in_html(clinic)
    if clinic.onboarding_path != OnboardingPath.FORWARD:
        return format_html("<p id='onboarding-path'><strong>{}</strong>: the clinic lists the number bought here.</p>", path)
    published = phone_format_national(clinic.published_number)
    head = format_html(
        "<p id='onboarding-path'><strong>{}</strong>: {} forwards its calls to the clinic's Twilio number.</p>", path, published
    )
    return head + forwarding_html(clinic)


def forwarding_html(clinic: Clinic) -> str:
    """How to forward the published line to the clinic's forwarding target (Clinic.forward_target)."""
    published = phone_format_national(clinic.published_number)
    if not clinic.forward_target:
        return mark_safe("<p>Provision a number first: the forwarding instructions name it.</p>")
    target, digits = phone_format_national(clinic.forward_target), clinic.forward_target.removeprefix("+1")
    rows = [
        (kind, always.format(n=digits), conditional.format(n=digits), off) for kind, always, conditional, off in FORWARDING_CODES
    ]
    return format_html(
        "<div class='forwarding-instructions'><p>From the phone of {} (or its phone system's settings), forward its calls to "
        "<strong>{}</strong>. Forward <em>all calls</em> to have the AI agent answer every call, or only <em>no answer and "
        "busy</em> to let the office ring first. Then call {} from another phone: the checklist ticks when Twilio reports "
        "the forwarded call.</p><table><thead><tr><th>Line</th><th>All calls</th><th>No answer / busy</th><th>Turn off"
        "</th></tr></thead><tbody>{}</tbody></table><p><small>The codes most US carriers use; a business phone system "
        "(VoIP, PBX) sets forwarding in its portal instead. If yours differs, ask the carrier for “call forwarding”. "
        "While forwarding is on, the no-agent fallback never rings {}: it plays the clinic's message.</small></p></div>",
        published,
        target,
        published,
        format_html_join(
            "", "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>", rows
        ),
        published,
    )


def text_enable_buttons(request: HttpRequest, clinic: Clinic, *, can_change: bool) -> dict[str, bool]:
    """Which hosted SMS buttons the clinic page offers this user: start the order (Onboarding
    staff's power, with hosted SMS on and no order standing), and check it now."""
    if clinic.onboarding_path != OnboardingPath.TEXT_ENABLE or clinic.texting_hosted:
        return {"text_enable_due": False, "text_enable_check": False, "text_enable_cancel": False}
    order = _hosted_order(clinic)
    standing = order is not None and order.status != "failed"
    return {
        "text_enable_due": request.user.has_perm(KEEP_NUMBER_PERMISSION)
        and not hosted.hosted_sms_disabled_reason()
        and not standing,
        "text_enable_check": can_change and standing,
        # Twilio cancels an order only in one status (hosted.HOSTED_CANCELLABLE): offered then only.
        "text_enable_cancel": request.user.has_perm(KEEP_NUMBER_PERMISSION) and hosted.hosted_order_cancellable(order),
    }


def _text_enable_html(clinic: Clinic, path: str) -> str:
    """The text-enable path: what it does, where the order stands, the authorization to sign."""
    published = phone_format_national(clinic.published_number)
    head = format_html(
        "<p id='onboarding-path'><strong>{}</strong>: texts to {} reach the clinic here (hosted SMS at Twilio); its calls "
        "stay with its carrier, which forwards them to the clinic's Twilio voice number (Provision number buys it) for "
        "the AI agent to answer.</p>",
        path,
        published,
    )
    forwarding = format_html("<div id='text-enable-forwarding'>{}</div>", forwarding_html(clinic))
    refused = hosted.hosted_sms_disabled_reason()
    if refused:
        return (
            head
            + forwarding
            + format_html(
                "<p class='hosted-off'>{} Twilio does not open hosted SMS to new customers until it is generally available, so "
                "it is switched off here (docs/onboarding-paths.md says how operators turn it on).</p>",
                refused,
            )
        )
    beta = format_html(
        "<p class='hosted-beta'><small>{}</small></p>",
        "Hosted SMS is an API Twilio keeps from new customers until it is generally available: it is switched on here "
        "for an account Twilio has enabled.",
    )
    order = _hosted_order(clinic)
    if order is None:
        return head + beta + format_html("<p id='hosted-order'>{}</p>", "No texting order yet.") + forwarding
    line = format_html(
        "<p id='hosted-order' data-status='{}'>Texting order for {}: <strong>{}</strong>, since {}.</p>",
        order.status or "requested",
        phone_format_national(order.phone_number),
        order.status_words,
        datetime_for_people(order.status_changed_at, clinic.time_zone),
    )
    # Safe, not "": a plain str would turn the concatenation below into escaped text.
    loa = mark_safe("")
    if order.signing_document_sid and order.status not in ("completed", "failed"):
        loa = format_html(
            "<p id='hosted-loa'>The authorization (letter of authorization) is ready for e-signature: Twilio e-mails it "
            "to the representative named in the business profile. <small class='operator-detail'>Authorization document "
            "<code>{}</code>, order <code>{}</code>.</small></p>",
            order.signing_document_sid,
            order.sid,
        )
    return head + beta + line + loa + forwarding

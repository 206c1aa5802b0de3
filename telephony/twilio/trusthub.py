"""Trust Hub: the bundles, end users, supporting documents and addresses of A2P 10DLC registration.

Trust Hub v1 (trusthub.twilio.com) calls, and API v2010 Addresses, for registering a clinic
as our secondary customer (Twilio's "A2P 10DLC - Standard and Low-Volume Standard Brand
Onboarding Guide for ISVs"; parameters from the specs twilio_trusthub_v1.json and
twilio_api_v2010.json). Its brand and campaign are Messaging's: telephony.twilio.messaging.
Every function takes the `account_sid` the clinic registers in and, for a clinic's own
subaccount, that subaccount's `auth_token` (see telephony.a2p.rules.registration_account):
Trust Hub is scoped by the credentials, not by the URL (telephony.twilio.client.client_acting_in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from telephony.twilio.client import LIST_PAGE_SIZE, client_acting_in
from telephony.twilio.errors import calling, review_errors

# Policies (fixed by Twilio, the same in every account; the ISV guide names them).
POLICY_SECONDARY_CUSTOMER_PROFILE = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
POLICY_A2P_MESSAGING_PROFILE = "RNb0d4771c2c98518d916a3d4cd70a8f8b"

TRUST_HUB_PACE_SECONDS = 1.0  # Trust Hub allows about one request per second per account.
BundleKind = Literal["customer_profiles", "trust_products"]


@dataclass(frozen=True)
class TrustBundle:
    """A Trust Hub bundle: a CustomerProfile (BU...) or a TrustProduct (BU...)."""

    sid: str
    status: str
    friendly_name: str
    policy_sid: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrustObject:
    """An EndUser (IT...), SupportingDocument (RD...) or Address (AD...) as Twilio keeps it."""

    sid: str
    friendly_name: str


@dataclass(frozen=True)
class Evaluation:
    """A bundle's evaluation against its policy: 'compliant' or 'noncompliant'."""

    sid: str
    status: str


def _bundle(raw: Any) -> TrustBundle:
    return TrustBundle(
        sid=raw.sid,
        status=raw.status or "",
        friendly_name=raw.friendly_name or "",
        policy_sid=raw.policy_sid or "",
        errors=review_errors(getattr(raw, "errors", None)),
    )


def _bundles(account_sid: str, auth_token: str, kind: BundleKind) -> Any:
    return getattr(client_acting_in(account_sid, auth_token).trusthub.v1, kind)


def _bundle_label(kind: BundleKind) -> str:
    return "customer profile" if kind == "customer_profiles" else "A2P trust product"


def trust_bundle_create(
    *,
    account_sid: str,
    auth_token: str = "",
    kind: BundleKind,
    friendly_name: str,
    email: str,
    policy_sid: str,
    status_callback: str,
) -> TrustBundle:
    """Create an empty draft CustomerProfile or TrustProduct under `policy_sid`.

    Twilio calls `status_callback` when the bundle's review status changes (Trust Hub
    "CustomerProfile Resource" / "TrustProduct Resource": StatusCallback, "The URL we call
    to inform your application of status changes"; on create and on update).
    """
    return _bundle(
        calling(
            f"creating the {_bundle_label(kind)} {friendly_name!r}",
            lambda: _bundles(account_sid, auth_token, kind).create(
                friendly_name=friendly_name, email=email, policy_sid=policy_sid, status_callback=status_callback
            ),
        )
    )


def trust_bundles_find(*, account_sid: str, auth_token: str = "", kind: BundleKind, friendly_name: str) -> list[TrustBundle]:
    """The account's bundles of `kind` named exactly `friendly_name` (one request)."""
    found = calling(
        f"looking up the {_bundle_label(kind)} {friendly_name!r}",
        lambda: _bundles(account_sid, auth_token, kind).list(friendly_name=friendly_name, limit=20),
    )
    return [_bundle(b) for b in found if b.friendly_name == friendly_name]


def trust_bundle_fetch(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str) -> TrustBundle:
    """A bundle as Twilio has it now (its review status)."""
    return _bundle(calling(f"fetching the {_bundle_label(kind)}", lambda: _bundles(account_sid, auth_token, kind)(sid).fetch()))


def trust_bundle_submit(
    *, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str, status_callback: str
) -> TrustBundle:
    """Submit a bundle for Twilio's review (Status=pending-review); harmless to repeat.

    Sets its StatusCallback again in the same update, so a bundle created before (or with
    another API_BASE_URL) reports this review where we listen now.
    """
    return _bundle(
        calling(
            f"submitting the {_bundle_label(kind)} for review",
            lambda: _bundles(account_sid, auth_token, kind)(sid).update(status="pending-review", status_callback=status_callback),
        )
    )


def _assignments(account_sid: str, auth_token: str, kind: BundleKind, sid: str) -> Any:
    context = _bundles(account_sid, auth_token, kind)(sid)
    return getattr(context, f"{kind}_entity_assignments")


def trust_bundle_assigned(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str) -> set[str]:
    """The object SIDs already assigned to a bundle (all pages)."""
    found = calling(
        f"listing what is assigned to the {_bundle_label(kind)}",
        lambda: _assignments(account_sid, auth_token, kind, sid).list(page_size=LIST_PAGE_SIZE),
    )
    return {a.object_sid for a in found}


def trust_bundle_assign(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str, object_sid: str) -> None:
    """Assign an EndUser, SupportingDocument or (for a secondary profile) our primary profile to a bundle."""
    calling(
        f"adding an item to the {_bundle_label(kind)}",
        lambda: _assignments(account_sid, auth_token, kind, sid).create(object_sid=object_sid),
    )


def trust_bundle_evaluate(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str, policy_sid: str) -> Evaluation:
    """Evaluate a bundle against its policy before submitting it."""
    context = _bundles(account_sid, auth_token, kind)(sid)
    evaluation = calling(
        f"having Twilio check the {_bundle_label(kind)}",
        lambda: getattr(context, f"{kind}_evaluations").create(policy_sid=policy_sid),
    )
    return Evaluation(sid=evaluation.sid, status=evaluation.status or "")


def end_user_create(
    *, account_sid: str, auth_token: str = "", friendly_name: str, object_type: str, attributes: Mapping[str, Any]
) -> TrustObject:
    """An EndUser (business information, authorized representative, A2P messaging profile information)."""
    user = calling(
        f"creating the end user {friendly_name!r}",
        lambda: client_acting_in(account_sid, auth_token).trusthub.v1.end_users.create(
            friendly_name=friendly_name, type=object_type, attributes=dict(attributes)
        ),
    )
    return TrustObject(sid=user.sid, friendly_name=user.friendly_name or "")


def end_user_update(*, account_sid: str, auth_token: str = "", sid: str, attributes: Mapping[str, Any]) -> None:
    """Replace an EndUser's attributes (staff edited the business profile before resubmitting)."""
    calling(
        "updating the business details at Twilio",
        lambda: client_acting_in(account_sid, auth_token).trusthub.v1.end_users(sid).update(attributes=dict(attributes)),
    )


def end_users_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[TrustObject]:
    """EndUsers named exactly `friendly_name` (Twilio has no name filter: all pages, filtered here)."""
    found = calling(
        "listing Trust Hub end users",
        lambda: client_acting_in(account_sid, auth_token).trusthub.v1.end_users.list(page_size=LIST_PAGE_SIZE),
    )
    return [TrustObject(sid=u.sid, friendly_name=u.friendly_name) for u in found if u.friendly_name == friendly_name]


def supporting_document_create(
    *, account_sid: str, auth_token: str = "", friendly_name: str, object_type: str, attributes: Mapping[str, Any]
) -> TrustObject:
    """A SupportingDocument (e.g. customer_profile_address pointing at an Address)."""
    doc = calling(
        f"creating the supporting document {friendly_name!r}",
        lambda: client_acting_in(account_sid, auth_token).trusthub.v1.supporting_documents.create(
            friendly_name=friendly_name, type=object_type, attributes=dict(attributes)
        ),
    )
    return TrustObject(sid=doc.sid, friendly_name=doc.friendly_name or "")


def supporting_documents_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[TrustObject]:
    """SupportingDocuments named exactly `friendly_name` (all pages, filtered here)."""
    found = calling(
        "listing Trust Hub supporting documents",
        lambda: client_acting_in(account_sid, auth_token).trusthub.v1.supporting_documents.list(page_size=LIST_PAGE_SIZE),
    )
    return [TrustObject(sid=d.sid, friendly_name=d.friendly_name) for d in found if d.friendly_name == friendly_name]


def address_create(
    *,
    account_sid: str,
    auth_token: str = "",
    friendly_name: str,
    customer_name: str,
    street: str,
    city: str,
    region: str,
    postal_code: str,
) -> TrustObject:
    """A US Address (API v2010) for the business profile."""
    address = calling(
        f"creating the address {friendly_name!r}",
        lambda: (
            client_acting_in(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .addresses.create(
                customer_name=customer_name,
                street=street,
                city=city,
                region=region,
                postal_code=postal_code,
                iso_country="US",
                friendly_name=friendly_name,
            )
        ),
    )
    return TrustObject(sid=address.sid, friendly_name=address.friendly_name or "")


def address_update(
    *,
    account_sid: str,
    auth_token: str = "",
    sid: str,
    customer_name: str,
    street: str,
    city: str,
    region: str,
    postal_code: str,
) -> None:
    """Bring an Address (API v2010) up to date with the business profile (its country stays US)."""
    calling(
        "updating the business address at Twilio",
        lambda: (
            client_acting_in(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .addresses(sid)
            .update(customer_name=customer_name, street=street, city=city, region=region, postal_code=postal_code)
        ),
    )


def addresses_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[TrustObject]:
    """Addresses named exactly `friendly_name` (one request)."""
    found = calling(
        f"looking up the address {friendly_name!r}",
        lambda: (
            client_acting_in(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .addresses.list(friendly_name=friendly_name, limit=20)
        ),
    )
    return [TrustObject(sid=a.sid, friendly_name=a.friendly_name) for a in found if a.friendly_name == friendly_name]

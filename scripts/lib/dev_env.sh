# shellcheck shell=bash
# What scripts/dev exports before it starts anything (sourced; tests/test_first_run.py reads it
# the same way). Expects $sandbox_port.
export DJANGO_DEBUG=${DJANGO_DEBUG:-true}
# The sandbox Twilio unless real credentials are given: production settings refuse to
# run without credentials, and only TWILIO_SANDBOX=true allows the sandbox's.
if [ -z "${TWILIO_ACCOUNT_SID:-}" ]; then
    export TWILIO_SANDBOX=${TWILIO_SANDBOX:-true}
    # A2P 10DLC registration against the sandbox: a stand-in for our approved Primary
    # Customer Profile (the sandbox approves each review 30 s after submission).
    export TWILIO_PRIMARY_CUSTOMER_PROFILE_SID=${TWILIO_PRIMARY_CUSTOMER_PROFILE_SID:-BU00000000000000000000000000000d3m}
fi
if [ "${TWILIO_SANDBOX:-}" = true ]; then
    # The sandbox implements hosted SMS orders, so the demo offers all four onboarding paths.
    # Only there: at Twilio the API is kept from new customers until it is generally available
    # (docs/onboarding-paths.md), so a real account keeps the setting's own default (off).
    export TWILIO_HOSTED_SMS_ENABLED=${TWILIO_HOSTED_SMS_ENABLED:-true}
fi
export TWILIO_SANDBOX_URL=${TWILIO_SANDBOX_URL:-http://127.0.0.1:$sandbox_port}

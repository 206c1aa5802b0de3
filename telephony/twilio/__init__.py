"""The Twilio adapter: the only code that talks to Twilio's REST API (through the official SDK).

Split by Twilio product; no Django models, no `clinics` import: typed results and one TwilioError.
"""

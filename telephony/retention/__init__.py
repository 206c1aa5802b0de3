"""Patients' data kept only as long as needed (MESSAGE_RETENTION_DAYS): workflows.

    redaction.py   beat's retention run: texts' bodies and replies, and callers' numbers, past the
                   retention period redacted here, then at Twilio in the owning account; its
                   counts, the backlog the doctor reports, and the line on a clinic's page
    departures.py  a clinic that left: its patients' data downloaded on request, and purged
                   once the retention period has passed since it left (never sooner)

Operations: docs/operations.md, "Patient data retention".
"""

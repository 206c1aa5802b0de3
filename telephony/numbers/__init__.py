"""Workflows on clinics' numbers and accounts: provisioning, search, release, moves,
the audit and the doctor, and usage.
"""

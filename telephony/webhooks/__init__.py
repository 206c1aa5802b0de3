"""Twilio's requests to us: the views, their signature and tenant checks, the TwiML they
answer, the hot path's database statements, and the fallbacks that work with the database down.
"""

"""A2P 10DLC: the registration pipeline that lets a clinic text US patients, and the
outbound texts (reminders) that depend on it.
"""

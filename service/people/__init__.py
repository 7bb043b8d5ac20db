"""The people: participants and their consent, coordinators and their accounts, rosters, erasure
and the audit log.
"""

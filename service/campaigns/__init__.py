"""Meetings and campaigns: when groups meet, what reminds and encourages their members, planned
into the outbox ahead of time.
"""

"""The way out: dispatching due rows to the telephone network once each, under a rate limit, and
learning from its errors.
"""

"""What Peerline says: the words of every text and call, their cost in segments, the outbox row
each becomes, and when it may arrive.
"""

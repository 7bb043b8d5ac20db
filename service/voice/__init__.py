"""Calls: what Peerline says on the phone, and what a call's outcome means for its row."""

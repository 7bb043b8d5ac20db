"""Peerline: the application, its domain and its web and command-line shells."""

"""The demo: sample groups and people, and a phone that texts and calls Peerline as Twilio would."""

"""Every HTTP door: Twilio's text and voice webhooks, the coordinators' REST API, health and
metrics, the demo's phone page.
"""

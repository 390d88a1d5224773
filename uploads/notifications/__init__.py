"""Telling people: email and team webhooks, written to an outbox with the change that causes them.

The tables are in uploads/models/notifications.py. `outbox` (what a change
writes, in its transaction), `delivery` (claiming and sending rows, on the notifications
queue), `email` and `webhooks` (the two doors out), `digest` and `alerts` (run_periodic's
steps).
"""

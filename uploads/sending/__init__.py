"""The send path: `queue` (fair order, places), `sender` (one upload per slot, fenced by
claims) and `polling` (statuses when callbacks never come). Every status change goes
through Submission.transition; `uploads.tasks` wakes the sender, `uploads.periodic` keeps
it awake and recovers what stalled workers left."""

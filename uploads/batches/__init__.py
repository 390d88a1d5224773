"""Many URLs at once ("Submit many"), as one batch.

- `reading`: the paste or CSV file in, the CSV of rows to fix out (plain Python).
- `service`: make a batch (in the request: rows are only read and stored), its counts,
  queueing it once its creator confirms, cancelling what of it still waits.
- `checking`: the background check (the `check_batch` task, on the batches queue):
  every row through the submission form's own rules, then its link through the form's
  own URL check, at most BATCH_CHECK_CONCURRENCY at once.
"""

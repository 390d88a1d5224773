"""Checking the URLs people submit: the only code that fetches them.

`addresses` judges where a URL points (no DNS), `probe` fetches it (resolving and pinning
the address, every redirect re-checked, bounded in time and bytes), `playlist` reads
m3u8 files, `policy` turns settings into the probe's options, and `findings` is what is
kept of a check on the submission. Nearly all of it is plain Python, free of Django.
"""

"""Checking the URLs people submit: the only code that fetches them.

`probe` fetches (resolving and pinning the address, every redirect re-checked, bounded in
time and bytes) and is the one module that connects to a user's URL. The rest is pure,
no network and no DNS: `addresses` judges where a URL points, `options` and `policy` give
the probe its options (from settings), `answers` reads what a server answered and says it
in words, `playlist` reads m3u8 files, `outcomes` holds the refusals and results, and
`findings` is what is kept of a check on the submission.
"""

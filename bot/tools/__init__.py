"""The operator tools: `opsbot shell` (console.py) and the local Slack workspace it and the
tests use (localslack.py), `opsbot doctor` (doctor.py) and `opsbot init` (init.py).

None of this runs on a request to `opsbot serve`: the runtime core is the rest of bot/. At
its start, serve runs the doctor's quick checks once and keeps what they found for the App
Home.
"""

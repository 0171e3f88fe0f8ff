"""The operator tools: `opsbot shell` (console/) and the local Slack workspace it and the
tests use (localslack/), `opsbot doctor` (doctor/) and `opsbot init` (init/).

None of this runs on a request to `opsbot serve`: the runtime core is the rest of bot/. At
its start, serve runs the doctor's quick checks once and keeps what they found for the App
Home.
"""

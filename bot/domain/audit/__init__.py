"""The plan's monthly security audit: its checks (npm audit, secrets in the checkout, headers and
CORS, a bounded rate-limit probe, failed logins, unsafe queries), the run stored and compared
with the last, and its report. Run by the security-audit job and by `/health security`."""

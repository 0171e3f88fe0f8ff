# opsbot: one process serving Slack on PORT, SQLite on the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPSBOT_DB=/data/opsbot.db \
    BACKUP_DIR=/data/backups \
    PORT=3000

RUN useradd --create-home --uid 10001 opsbot && mkdir /data && chown opsbot /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commands ./commands
COPY jobs ./jobs
RUN pip install --no-cache-dir .

USER opsbot
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/healthz', timeout=4)"
CMD ["opsbot", "serve"]

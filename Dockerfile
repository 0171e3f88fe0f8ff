# opsbot: one process serving Slack on PORT, SQLite on the /data volume.
#   docker build -t opsbot .
#   docker build -t opsbot --build-arg MONGODB_TOOLS=100.10.0 .   # with mongodump/mongorestore
FROM python:3.11-slim

# git: /rollback reads release tags and runs `git checkout`; tzdata: TIMEZONE; CA certificates:
# Slack, PagerDuty and Statuspage over TLS; openssh-client: rollback steps that run on the
# application host (`ssh deploy@app-host ...`).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git tzdata ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/*

# The MongoDB database tools are optional: without them backups use the built-in dumper.
ARG MONGODB_TOOLS=""
RUN if [ -n "$MONGODB_TOOLS" ]; then \
      arch="$(uname -m)"; \
      url="https://fastdl.mongodb.org/tools/db/mongodb-database-tools-debian12-${arch}-${MONGODB_TOOLS}.tgz"; \
      python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], '/tmp/tools.tgz')" "$url" \
      && tar -xzf /tmp/tools.tgz -C /tmp \
      && cp /tmp/mongodb-database-tools-*/bin/* /usr/local/bin/ \
      && rm -rf /tmp/tools.tgz /tmp/mongodb-database-tools-*; \
    fi

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

USER 10001
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
CMD ["opsbot", "serve"]

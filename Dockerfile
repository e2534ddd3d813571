# opsmeeting in a container (for the Kubernetes CronJob in config/kubernetes/cronjob.yaml).
#   docker build -t opsmeeting:0.1.0 .
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/opsmeeting
COPY pyproject.toml README.md ./
COPY opsmeeting ./opsmeeting
RUN pip install --no-cache-dir . && useradd --uid 10001 --create-home opsmeeting
USER opsmeeting
ENTRYPOINT ["opsmeeting"]
CMD ["--help"]

# opsmeeting in a container (for the Kubernetes CronJob in config/kubernetes/cronjob.yaml).
#   docker build -t opsmeeting:0.1.0 .
FROM python:3.11-slim-bookworm
# Fonts: DejaVu, then Noto for CJK and emoji names (the PDF embeds subsets of what it draws; the page, a subset of
# Noto Sans CJK JP). fontconfig: fc-match, and the font cache (built here, not at each start). The serif CJK
# faces are never used: removed (−53 MB).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig \
      fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji \
 && rm -f /usr/share/fonts/opentype/noto/NotoSerifCJK-*.ttc && fc-cache -f \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/opsmeeting
COPY pyproject.toml README.md ./
COPY opsmeeting ./opsmeeting
RUN pip install --no-cache-dir . && useradd --uid 10001 --create-home opsmeeting
USER opsmeeting
ENTRYPOINT ["opsmeeting"]
CMD ["--help"]

# One evalroom hub node. PostgreSQL and Redis are separate services (docker-compose.yml).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The report's PDF embeds WenQuanYi Micro Hei (evalroom/report.py), so it reads the same everywhere.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY evalroom ./evalroom
COPY crypto ./crypto
COPY clients ./clients
RUN pip install . && useradd --system --uid 10001 evalroom
USER evalroom
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["evalroom", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN useradd --create-home sandbox
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt
ENV PATH="/venv/bin:$PATH"
COPY . .
# Production settings (DEBUG=False) name static files by their hash: collect them the same way.
RUN DEBUG=False SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
USER sandbox
EXPOSE 8000
CMD ["gunicorn", "sandbox.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]

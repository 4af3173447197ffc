# The project's Python environment; two images from it: the gateway and the action server.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements/project.lock requirements/project.lock
RUN pip install --no-cache-dir --no-deps -r requirements/project.lock
COPY bot/ bot/
COPY actions/ actions/
COPY nlu/ nlu/
COPY nlu_data/faq/ nlu_data/faq/
RUN useradd --system --home /app bot && chown -R bot /app
USER bot

FROM base AS gateway
EXPOSE 8080
CMD ["python", "-m", "bot"]

FROM base AS actions
EXPOSE 5055
CMD ["python", "-m", "rasa_sdk", "--actions", "actions", "--port", "5055"]

# Rasa server with the model trained at build time from nlu_data/, config.yml and domain.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=/app
WORKDIR /app
COPY requirements/rasa.lock requirements/rasa.lock
RUN pip install --no-cache-dir --ignore-requires-python --no-deps -r requirements/rasa.lock
COPY nlu/ nlu/
COPY nlu_data/ nlu_data/
COPY config.yml domain.yml endpoints.yml credentials.yml ./
COPY docker/endpoints.compose.yml docker/endpoints.compose.yml
RUN python -m nlu.build_data --data nlu_data --out /tmp/rasa-data \
    && rasa train --data /tmp/rasa-data --config config.yml --domain domain.yml \
       --out models --fixed-model-name current \
    && rm -rf /tmp/rasa-data .rasa
RUN useradd --system --home /app rasa && chown -R rasa /app
USER rasa
EXPOSE 5005
CMD ["rasa", "run", "--enable-api", "--model", "models/current.tar.gz", \
     "--endpoints", "docker/endpoints.compose.yml", "--credentials", "credentials.yml", \
     "--port", "5005"]

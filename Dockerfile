FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY distributor ./distributor
COPY tasks ./tasks
COPY templates ./templates
# A normal install (templates ship as package data); the flower extra for the
# compose stack's optional Flower service. The test tools stay out of the image.
RUN pip install '.[flower]'
RUN useradd --create-home distributor && mkdir -p /app/var && chown distributor /app/var
USER distributor
EXPOSE 8000
CMD ["distributor", "api", "--host", "0.0.0.0", "--port", "8000"]

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY orgsync_kernel orgsync_kernel
COPY connectors connectors
COPY pipeline pipeline
COPY orgsync_operations orgsync_operations
COPY orgsync orgsync
COPY zoho_emulator zoho_emulator
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8080
ENTRYPOINT ["orgsync"]
CMD ["run", "--config", "/etc/orgsync/config.yaml"]

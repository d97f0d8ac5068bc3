FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# CPU-only torch first, so sentence-transformers does not pull the CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md chainlit.md ./
COPY chatbot chatbot
COPY prompts prompts
COPY retrieval retrieval
COPY eval eval
RUN pip install .
EXPOSE 8000
CMD ["movie-rag", "chat", "--host", "0.0.0.0", "--port", "8000"]

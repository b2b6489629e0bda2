# CPU image serving the shipped model. Build: docker build -t opslens .
# Run: docker run -p 8000:8000 opslens
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 OPSLENS_HOST=0.0.0.0 OPSLENS_PORT=8000 OPSLENS_CACHE_DIR=/opt/opslens-cache

WORKDIR /src
# The pinned dependency set CI tested (requirements.lock, `make lock`), without resolving anything
# else. Its torch is the CPU build (2.13.0+cpu), from PyTorch's CPU index: PyPI's build pulls CUDA.
COPY requirements.lock ./
RUN pip install --no-deps --index-url https://download.pytorch.org/whl/cpu torch==2.13.0+cpu \
    && pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
# The package as pyproject.toml names it: the root modules, its data folder and every subpackage
# folder (tests/test_packaging.py checks these lines against the package list).
COPY __init__.py cli.py corpus.py ray_extra.py ./
COPY examples ./examples
COPY model ./model
COPY api ./api
COPY training ./training
COPY eval ./eval
COPY batch ./batch
RUN pip install --no-deps . && rm -rf /src
# Build the abstractive generator's onnxruntime-genai model into the image (hash-checked at start).
RUN opslens prepare models && opslens prepare abstractive

RUN useradd --create-home --uid 10001 opslens && chown -R opslens /opt/opslens-cache
USER opslens
WORKDIR /home/opslens
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4).status == 200 else 1)"
CMD ["opslens", "serve"]

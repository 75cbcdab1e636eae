# syntax=docker/dockerfile:1
# labridge in a container: `labridge run` on the schedule in /data/labridge.toml, the store in
# /data (a volume). Build and run: docs/deploy.md ("Docker").
#   docker build -t labridge .
#   docker run -d --name labridge -v labridge-data:/data -e LABRIDGE_PASSWORD labridge
ARG PYTHON_VERSION=3.12

# -- build: the wheel, from the source tree ----------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY examples ./examples
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# -- runtime: the wheel and its dependencies, nothing to build with ----------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist /tmp/dist
RUN pip install --no-cache-dir /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && groupadd --system --gid 10001 labridge \
    && useradd --system --uid 10001 --gid labridge --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin labridge \
    && mkdir -p /data \
    && chown labridge:labridge /data \
    && chmod 0700 /data
# The store (labridge.db beside labridge.toml), reports and the config live in /data.
VOLUME ["/data"]
WORKDIR /data
USER labridge:labridge
# docker stop sends SIGTERM: labridge finishes the record in hand and exits 143. Give it time:
# docker stop --time 300 (or stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["labridge"]
CMD ["run"]

# A slim image with ecs-exec as its entrypoint, fit to run as an access gateway's connection
# image: the wheel is built in a throwaway stage, the runtime stage has no compilers and runs
# as a non-root user. Configure it with CLUSTER_NAME, SERVICE_NAME, CONTAINER, AWS_REGION and
# credentials (or the task role of a gateway running on ECS).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ecs_exec ./ecs_exec
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 ecsexec
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER ecsexec
ENTRYPOINT ["ecs-exec"]
CMD ["--help"]

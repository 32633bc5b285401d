"""The Docker files keep their promises: non-root, base install, healthcheck, local ports."""

from __future__ import annotations

import re

from tests.packaging.support import REPO

RUNTIME = (REPO / "docker/Dockerfile").read_text()
TRAINER = (REPO / "docker/trainer.Dockerfile").read_text()
COMPOSE = (REPO / "docker/compose.yaml").read_text()


def _instructions(dockerfile: str, keyword: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line for line in joined.splitlines() if line.startswith(f"{keyword} ")]


def test_runtime_image_builds_a_wheel_then_installs_it_into_a_venv() -> None:
    stages = _instructions(RUNTIME, "FROM")
    assert len(stages) == 2
    assert "python:3.11-slim" in RUNTIME
    assert "pip wheel" in RUNTIME
    assert "COPY --from=build /opt/invest/venv /opt/invest/venv" in RUNTIME
    # Slimmed like install.sh's venv, before the smoke test.
    (build,) = (r for r in _instructions(RUNTIME, "RUN") if "pip wheel" in r)
    assert build.index("installer/slim-venv.sh /opt/invest/venv") < build.index("invest --version")


def test_runtime_image_is_the_base_install_without_torch() -> None:
    runs = " ".join(_instructions(RUNTIME, "RUN"))
    assert "[train]" not in runs
    assert "torch" not in runs
    # The charts of the reports (the tearsheet, the alerts' PNGs) come with the image.
    assert '"$1[reports]"' in runs


def test_runtime_image_runs_the_engine_as_a_non_root_user() -> None:
    (user,) = _instructions(RUNTIME, "USER")
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert _instructions(RUNTIME, "ENTRYPOINT") == ['ENTRYPOINT ["invest"]']
    assert _instructions(RUNTIME, "CMD") == ['CMD ["engine"]']


def test_runtime_image_checks_the_engine_heartbeat_and_keeps_its_data_in_a_volume() -> None:
    (health,) = _instructions(RUNTIME, "HEALTHCHECK")
    assert '"invest", "status", "--heartbeat-max-age"' in health
    assert _instructions(RUNTIME, "VOLUME") == ['VOLUME ["/var/lib/invest"]']


def test_trainer_image_installs_the_train_extra_on_a_cuda_base() -> None:
    assert re.search(r"nvidia/cuda:[\w.-]+-runtime-", TRAINER)
    assert "[train]" in TRAINER


def test_compose_publishes_ports_on_localhost_only() -> None:
    ports = re.findall(r'^\s*-\s*"?([0-9.:]+)"?\s*$', COMPOSE, flags=re.M)
    published = [p for p in ports if p.count(":") >= 1]
    assert published, "compose.yaml publishes no port at all"
    for mapping in published:
        assert mapping.startswith("127.0.0.1:"), mapping


def test_dockerignore_lets_in_only_what_the_wheel_needs() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "runtime", "trainer", "tui"} <= allowed
    assert "installer/slim-venv.sh" in allowed  # the build stage runs it
    assert ".venv" not in allowed
    assert ".git" not in allowed

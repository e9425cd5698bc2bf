"""Docker cannot run here, so check the production shape against what the suite runs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sandbox.processes import beat_command, web_command, worker_command

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def program(command: list[str]) -> list[str]:
    """Return a command with its executable named by basename, as in a container's PATH."""
    return [Path(command[0]).name, *command[1:]]


def test_it_has_the_production_services():
    assert {"db", "redis", "web", "worker", "beat", "migrate"} <= set(SERVICES)


def test_the_web_service_runs_the_command_the_tests_run():
    assert SERVICES["web"]["command"] == program(web_command("0.0.0.0", 8000))


def test_the_dockerfile_default_is_the_web_command():
    cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert yaml.safe_load(cmd) == program(web_command("0.0.0.0", 8000))


def test_the_worker_service_runs_the_command_the_tests_run():
    assert SERVICES["worker"]["command"] == program(worker_command())


def test_the_beat_service_runs_the_command_the_tests_run():
    assert SERVICES["beat"]["command"] == program(beat_command())


def test_the_migrate_service_loads_the_starter_course_the_tests_load():
    command = SERVICES["migrate"]["command"][-1]
    assert "manage.py migrate --noinput" in command
    folder = re.search(r"import_course --if-new (\S+)", command).group(1)  # once: edits stay
    assert (ROOT / folder / "course.yaml").is_file()


def test_app_services_wait_for_healthy_database_and_redis():
    for name in ("db", "redis"):
        assert "healthcheck" in SERVICES[name]
    for name in ("web", "worker", "beat", "migrate"):
        depends = SERVICES[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_app_services_run_with_production_settings():
    for name in ("web", "worker", "migrate"):
        env = SERVICES[name]["environment"]
        assert env["DEBUG"] == "False"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_every_setting_read_from_the_environment_is_in_env_example():
    settings = (ROOT / "sandbox" / "settings.py").read_text()
    env_call = r'(?:getenv|envbool|envint|envfloat|envsecret)\(\s*"([A-Z_]+)"'
    read = set(re.findall(env_call, settings))
    example = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - {"DJANGO_SETTINGS_MODULE"} <= example, read - example


def test_the_image_collects_static_files_as_production_serves_them():
    # With DEBUG=False the pages link hashed file names from the manifest; a collect run
    # under DEBUG=True would write no manifest, and every page would fail.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN DEBUG=False .*collectstatic", dockerfile, re.M)

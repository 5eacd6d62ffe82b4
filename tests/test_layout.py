"""The layout's rules (docs/architecture.md): rooms by role, no import circles, small files."""

from __future__ import annotations

from tests.support.imports import SRC, circles, module_graph, room_graph

MAX_LINES = 500
MAX_API_TOP_MODULES = 20


def test_no_import_circles():
    assert circles(module_graph()) == []


def test_no_file_in_src_is_over_500_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_api_top_holds_at_most_20_modules():
    top = sorted(p.name for p in (SRC / "api").glob("*.py"))
    assert len(top) <= MAX_API_TOP_MODULES, top
    assert {"endpoints", "storage", "serving"} <= {p.name for p in (SRC / "api").iterdir() if p.is_dir()}


def test_rooms_import_only_what_their_role_needs():
    rooms = room_graph()
    # The model stands alone: serving and training both import it, it imports neither.
    assert rooms["model"] == set()
    # Training never reaches into the API, the learning loop or the web front end.
    assert (
        rooms["training"] & {"api", "api.endpoints", "api.storage", "api.serving", "learning", "dash"}
        == set()
    )
    # The API serves; only the learning loop trains (and the API never imports it).
    for room in ("api", "api.endpoints", "api.storage", "api.serving"):
        assert rooms[room] & {"training", "training.corpus", "learning", "dash"} == set(), room
    # The web front end talks to the API over HTTP only (sharing the settings rules and the rule
    # of which address sent a request).
    for room in ("dash", "dash.pages"):
        assert rooms[room] <= {"dash", "dash.pages", "env_settings", "trusted_hops"}, room


def test_no_room_is_named_after_what_it_does_not_hold():
    # Database tables are not "models"; the n-gram half of the model is not a "baseline".
    assert not (SRC / "api" / "models.py").exists() and not (SRC / "api" / "storage" / "models.py").exists()
    assert not list(SRC.rglob("baseline.py"))

"""The documentation tells the truth about the tree.

- Every module path, dotted module and ``Class.member`` that docs/architecture.md names exists.
- No link (or path written as code) in README.md, docs/*.md or an example plugin's README leaves
  the repository, and every relative link's target exists.
- Every built-in plugin (``smsd_crm.plugins.BUILTIN_ORDER``) is named, by its package, in
  docs/architecture.md and docs/plugins.md; the entry-point table docs/plugins.md shows is the
  one in pyproject.toml.

The checks are functions of a document's text, so they can be run against an older version of a
page (``git show main:docs/architecture.md``) to see that they catch what was wrong there.
"""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
import tomllib
from functools import cache
from pathlib import Path

from smsd_crm.plugins import BUILTIN_ORDER

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
PLUGINS_DOC = DOCS / "plugins.md"
# A short name resolves from the repository's root, the core package, the plugins folder or the tests.
BASES = ("", "smsd_crm/", "plugins/", "tests/")
EXTENSIONS = ("py", "md", "yaml", "toml", "html", "css", "js", "csv", "txt")
PLACEHOLDER = "<name>"  # plugins/smsd_crm_<name>/: every built-in plugin

FENCE = re.compile(r"^( *)```[^\n]*\n(.*?)^\1```", re.M | re.S)  # also indented, in a list item
INLINE = re.compile(r"`([^`\n]+)`")
WORD = re.compile(r"[\w.*<>/:-]+")
DOTTED = re.compile(r"smsd_crm(?:_\w+)?(?:\.\w+)*")
MEMBER = re.compile(r"([A-Z]\w*)\.([a-z_]\w*)(?:\(.*\))?")
CODE_MEMBER = re.compile(r"(?<![\w.])([A-Z]\w*)\.([a-z_]\w*)\b")
CODE_FUNCTION = re.compile(r"(?<![\w./])([a-z_][a-z0-9_]*)\.([A-Za-z_]\w*)\b")
MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((ROOT / "plugins" / "examples").glob("**/README.md"))]


def _split(text: str) -> tuple[list[str], str]:
    """The fenced code blocks' bodies, and the prose with them blanked out."""
    return [textwrap.dedent(m.group(2)) for m in FENCE.finditer(text)], FENCE.sub("\n", text)


def _is_path(token: str) -> bool:
    """A file or folder of the repository as written: ``sms/pdu.py``, ``router.py``, ``storage/``,
    ``test_x.py::test_y``; not a URL path (``/api/...``), a config key or a command."""
    token = token.split("::")[0]
    if not token or re.search(r"\s|:", token) or token.startswith(("/", ".", "-")) or not re.search(r"[a-z]", token):
        return False
    if token.endswith("/"):
        return True
    return bool(re.search(r"\.(%s)$" % "|".join(EXTENSIONS), token)) and ("/" in token or token.count(".") == 1)


def _exists(token: str, context: str = "") -> bool:
    token = token.split("::")[0]
    if PLACEHOLDER in token:
        return all(_exists(token.replace(PLACEHOLDER, name), context) for name in BUILTIN_ORDER)
    bases = BASES + ((context,) if context else ())
    for base in bases:
        candidate = ROOT / (base + token)
        if "*" in token:
            if any(ROOT.glob(base + token)):
                return True
        elif candidate.exists() and (not token.endswith("/") or candidate.is_dir()):
            return True
    return False


def path_references(text: str) -> list[tuple[str, str]]:
    """(path, context) for every path a page names: backticked in prose, or written in a code block.

    In a code block, a row that starts at the left margin names a package or module first; the bare
    file names in the row (and in its indented continuation lines) may be relative to that folder.
    """
    blocks, prose = _split(text)
    found = [(t, "") for t in INLINE.findall(prose) if _is_path(t)]
    for block in blocks:
        context = ""
        for line in block.splitlines():
            words = [w.rstrip(".,;:)") for w in WORD.findall(line)]
            paths = [w for w in words if _is_path(w)]
            if line[:1].strip() and paths:  # a new row: its first path sets the folder
                first = paths[0]
                folder = first if first.endswith("/") else first.rpartition("/")[0] + "/"
                context = next((b + folder for b in BASES if folder != "/" and (ROOT / (b + folder)).is_dir()), "")
            found += [(p, context) for p in paths]
    return found


def dotted_references(text: str) -> list[str]:
    """Every backticked ``smsd_crm...`` or ``smsd_crm_<plugin>...`` dotted name in the prose."""
    _, prose = _split(text)
    return [t for t in INLINE.findall(prose) if DOTTED.fullmatch(t.split("(")[0])]


def member_references(text: str) -> list[tuple[str, str]]:
    """Every ``Class.member`` backticked in the prose (``Router.accept``, ``ModemPool.acquire(...)``)
    or written in a code block (the path of one SMS: ``Modem._hand_up``)."""
    blocks, prose = _split(text)
    found = [m.groups() for t in INLINE.findall(prose) if (m := MEMBER.fullmatch(t))]
    return found + [m.groups() for b in blocks for m in CODE_MEMBER.finditer(b)]


def function_references(text: str) -> list[tuple[str, str]]:
    """Every ``module.name`` written in a code block whose first part is one of the repository's
    modules (``senders.why_not``, ``messages.claim_next``). In prose the same form is mostly a
    config key (``outbox.delivery_reports``), so only code blocks are read."""
    blocks, _ = _split(text)
    return [(m.group(1), m.group(2)) for b in blocks for m in CODE_FUNCTION.finditer(b)
            if m.group(1) in _modules() and m.group(2) not in EXTENSIONS]


def _dotted_exists(name: str) -> bool:
    parts = name.split("(")[0].split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        if not Path(obj.__file__ or "/").resolve().is_relative_to(ROOT):
            return False  # a module of that name, but not this repository's
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@cache
def _classes() -> dict[str, list[tuple[set[str], list[str]]]]:
    """Every class defined in the repository's code: name -> [(members, base names)]."""
    out: dict[str, list[tuple[set[str], list[str]]]] = {}
    for folder in ("smsd_crm", "plugins", "dashboards"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef):
                    continue
                members: set[str] = set()
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        members.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        members.add(item.target.id)
                    elif isinstance(item, ast.Assign):
                        members.update(t.id for t in item.targets if isinstance(t, ast.Name))
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                        members.update(n.attr for n in ast.walk(item) if isinstance(n, ast.Attribute)
                                       and isinstance(n.value, ast.Name) and n.value.id == "self")
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                out.setdefault(node.name, []).append((members, bases))
    return out


@cache
def _modules() -> dict[str, list[set[str]]]:
    """Every module of the repository's code: its file name without .py -> [its top-level names]."""
    out: dict[str, list[set[str]]] = {}
    for folder in ("smsd_crm", "plugins", "dashboards"):
        for path in (ROOT / folder).rglob("*.py"):
            names: set[str] = set()
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
            if path.stem != "__init__":
                out.setdefault(path.stem, []).append(names)
    return out


def _member_exists(cls: str, member: str, seen: frozenset[str] = frozenset()) -> bool:
    for members, bases in _classes().get(cls, []):
        if member in members or any(_member_exists(b, member, seen | {cls}) for b in bases if b not in seen):
            return True
    return False


def missing_names(text: str) -> tuple[list[str], int]:
    """What a page names that the repository does not have, and how many names were checked."""
    paths = path_references(text)
    dotted = dotted_references(text)
    members = member_references(text)
    missing = [p for p, context in paths if not _exists(p, context)]
    missing += [d for d in dotted if not _dotted_exists(d)]
    missing += [f"{c}.{m}" for c, m in members if not _member_exists(c, m)]
    functions = function_references(text)
    missing += [f"{mod}.{name}" for mod, name in functions if not any(name in n for n in _modules()[mod])]
    return missing, len(paths) + len(dotted) + len(members) + len(functions)


def leaving_links(text: str, where: Path) -> list[str]:
    """Links (and paths written as code) that leave the repository or point at nothing."""
    _, prose = _split(text)
    bad = []
    for target in MD_LINK.findall(prose) + REF_LINK.findall(prose):
        if re.match(r"(https?|mailto):", target) or target.startswith("#"):
            continue
        path = target.split("#")[0]
        if re.match(r"[a-z][a-z0-9+.-]*:", path) or path.startswith("/"):
            bad.append(target)  # file:, an absolute path: outside the repository by definition
            continue
        resolved = (where.parent / path).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            bad.append(target)
    for code in INLINE.findall(prose):
        if code.startswith("../") or "/../" in code:
            if not any((base / code).resolve().is_relative_to(ROOT) and (base / code).resolve().exists()
                       for base in (where.parent, ROOT)):
                bad.append(code)
    return bad


def unnamed_builtins(text: str) -> list[str]:
    """Built-in plugins whose package (``smsd_crm_<name>``) the page never names."""
    return [name for name in BUILTIN_ORDER if not re.search(rf"\bsmsd_crm_{name}\b", text)]


def test_every_module_named_in_the_architecture_exists():
    missing, checked = missing_names(ARCHITECTURE.read_text(encoding="utf-8"))
    print(f"docs/architecture.md: {checked} names checked")
    assert checked > 30, "the extraction found almost nothing: it is broken, not the page"
    assert missing == []


def test_no_link_leaves_the_repository():
    problems = {}
    for page in _markdown_files():
        bad = leaving_links(page.read_text(encoding="utf-8"), page)
        if bad:
            problems[str(page.relative_to(ROOT))] = bad
    assert problems == {}


def test_the_link_check_sees_links():
    # The check above must not pass because it reads nothing.
    readme = ROOT / "README.md"
    assert len(MD_LINK.findall(_split(readme.read_text(encoding="utf-8"))[1])) >= 5
    assert leaving_links("[notes](../../design.md) and `../shared/x.md`", readme) == ["../../design.md",
                                                                                     "../shared/x.md"]


def test_every_builtin_plugin_is_named_in_the_architecture_and_plugin_docs():
    assert BUILTIN_ORDER
    for page in (ARCHITECTURE, PLUGINS_DOC):
        assert unnamed_builtins(page.read_text(encoding="utf-8")) == [], page.name


def test_the_entry_point_table_shown_is_pyprojects():
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]["smsd_crm"]
    blocks, _ = _split(PLUGINS_DOC.read_text(encoding="utf-8"))
    shown = [tomllib.loads(b) for b in blocks if "[project.entry-points.smsd_crm]" in b]
    ours = [s["project"]["entry-points"]["smsd_crm"] for s in shown
            if set(BUILTIN_ORDER) <= set(s["project"]["entry-points"]["smsd_crm"])]
    assert ours == [table]

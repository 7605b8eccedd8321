"""The repository itself: no private key is ever committed (`.ci/check-keys`, run by `.ci/run`), and the
packages import one another in one direction only, with no import circle (docs/architecture.md, issue 26)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twisted.trial.unittest import SkipTest, SynchronousTestCase

CHECKOUT = Path(__file__).resolve().parent.parent
CHECK_KEYS = CHECKOUT / ".ci" / "check-keys"
PACKAGE = CHECKOUT / "chatroom"
# Each package may import only from packages of a lower layer (bench and client are tools, beside the server).
LAYERS = {
    "chatroom": 0,  # the package itself: its docstring
    "core": 0,
    "stores": 1,
    "server": 2,
    "bus": 3,
    "frontends": 3,
    "app": 4,
    "cli": 4,
    "bench": 5,
    "floor": 5,
    "client": 5,
}


def git(repository: Path, *arguments: str) -> None:
    subprocess.run(["git", "-C", str(repository), *arguments], check=True, capture_output=True)


class CheckKeysTests(SynchronousTestCase):
    def check(self, repository: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(CHECK_KEYS)], cwd=repository, capture_output=True, text=True)

    def test_a_committed_key_fails_the_check(self) -> None:
        repository = Path(self.mktemp())
        repository.mkdir()
        git(repository, "init", "--quiet")
        (repository / "README.md").write_text("nothing secret\n")
        (repository / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        git(repository, "add", ".")
        self.assertEqual(self.check(repository).returncode, 0, "certificates are public")
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (repository / "deep").mkdir()
        (repository / "deep" / "server.key").write_bytes(key)
        (repository / "ignored.key").write_bytes(key)  # not tracked: not the check's business
        git(repository, "add", "deep/server.key")
        result = self.check(repository)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stdout,
            "check-keys: deep/server.key holds a private key; remove it from git (and replace the key: it is public"
            " now)\n",
        )

    def test_every_form_of_key_from_anywhere_in_the_repository(self) -> None:
        """A review found these missed: other formats, a run from a subfolder, a key staged then edited away."""
        repository = Path(self.mktemp())
        (repository / "sub").mkdir(parents=True)
        git(repository, "init", "--quiet")
        private = "PRIVATE KEY"  # apart, so that this file is not a key to the check itself
        keys = {
            "putty.ppk": b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
            "pgp.asc": f"-----BEGIN PGP {private} BLOCK-----\n\nlQ\n".encode(),
            "ssh2.key": f"---- BEGIN SSH2 ENCRYPTED {private} ----\nP2/\n".encode(),
            "id_ed25519": f"-----BEGIN OPENSSH {private}-----\r\nb3Bl\r\n".encode(),
            "store.p12": b"\x30\x82binary",
            "utf16.pem": f"-----BEGIN EC {private}-----\nMHc\n".encode("utf-16"),
        }
        for name, content in keys.items():
            (repository / name).write_bytes(content)
        git(repository, "add", ".")
        (repository / "id_ed25519").write_text("edited away, but still staged\n")
        result = self.check(repository / "sub")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(sorted(line.split()[1] for line in result.stdout.splitlines()), sorted(keys))

    def test_this_checkout_holds_no_key(self) -> None:
        if not (CHECKOUT / ".git").exists():
            raise SkipTest("not a git checkout")
        result = self.check(CHECKOUT)
        self.assertEqual((result.returncode, result.stdout), (0, ""))


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(CHECKOUT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """chatroom's modules that `name` imports anywhere: under TYPE_CHECKING and inside functions too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            parent = package.rsplit(".", node.level - 1)[0] if node.level else ""  # a relative import's package
            base = ".".join(part for part in (parent, node.module) if part)
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                if target in known and target != name:
                    yield target


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The modules that reach one another through imports, in groups of more than one."""
    reach = {}
    for start in graph:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            if (module := todo.pop()) not in seen:
                seen.add(module)
                todo.extend(graph[module])
        reach[start] = seen
    groups = {frozenset({module} | {other for other in reach[module] if module in reach[other]}) for module in graph}
    return sorted((set(group) for group in groups if len(group) > 1), key=sorted)


def layer(module: str) -> str:
    """chatroom.server.tls -> server, chatroom.bench -> bench, chatroom -> chatroom."""
    return module.split(".")[1] if "." in module else module


class LayoutTests(SynchronousTestCase):
    def test_no_import_circle(self) -> None:
        self.assertEqual(circles(import_graph()), [])

    def test_no_package_imports_from_one_above_it(self) -> None:
        upward = [
            f"{module} imports {target}"
            for module, targets in import_graph().items()
            for target in sorted(targets)
            if layer(module) != layer(target) and LAYERS[layer(module)] <= LAYERS[layer(target)]
        ]
        self.assertEqual(upward, [])

    def test_every_package_has_its_layer(self) -> None:
        self.assertEqual({layer(module) for module in modules()}, set(LAYERS))

    def test_imports_for_types_and_in_functions_count(self) -> None:
        """The checks above can fail: what they look for is seen where it hides."""
        graph = import_graph()
        self.assertIn("chatroom.core.members", graph["chatroom.bus.history"])  # under TYPE_CHECKING
        self.assertIn("chatroom.bus.stores", graph["chatroom.cli.accounts"])  # inside main()
        self.assertIn("chatroom.frontends.irc.numerics", graph["chatroom.frontends.irc.dialect"])  # from a package
        self.assertEqual(circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}), [{"a", "b", "c"}])

"""A throw-away PostgreSQL server on loopback for the SQL-source tests.

Started from Debian's server binaries (``/usr/lib/postgresql/<version>/bin``; CI's
``.ci/run`` installs the ``postgresql`` package) in a temporary folder: TCP on 127.0.0.1 at
a free port, the unix socket in the same folder, password (SCRAM) authentication over
TCP and trust over the socket (used only to create the test role).  PostgreSQL refuses to
run as root, so under root the server runs as the ``postgres`` system user, which owns
the temporary folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PgServer:
    """A running server: connect as ``user``/``password`` to 127.0.0.1:``port``."""

    folder: Path
    bin_dir: Path
    port: int
    user: str
    password: str
    database: str
    run_as: list[str]

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    def url(self, password: str | None = None) -> str:
        """postgresql:// URL of the test database (``password`` default: the right one)."""
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{secret}@127.0.0.1:{self.port}/{self.database}"

    def admin(self) -> object:
        """A psycopg connection as the superuser over the unix socket (autocommit)."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        subprocess.run(
            [
                *self.run_as,
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(self.folder / "data"),
                "-m",
                "fast",
                "-w",
                "-s",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def find_bin_dir() -> Path | None:
    """Newest ``/usr/lib/postgresql/*/bin`` with initdb, pg_ctl and postgres."""
    found = [
        Path(p).parent
        for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")
        if all((Path(p).parent / tool).exists() for tool in ("initdb", "pg_ctl"))
    ]
    return max(
        found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None
    )


def why_unavailable() -> str | None:
    """Reason the server cannot be started here, or None."""
    if find_bin_dir() is None:
        return (
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/postgres; "
            "Debian package postgresql, installed by .ci/run)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' system user to run the server"
        if shutil.which("runuser") is None:
            return "running as root and runuser (util-linux) is missing"
    for module in ("sqlalchemy", "psycopg"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install 'clvmodels[sql]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    user: str = "clv_test",
    password: str = "s3cret-Pw_7731",
    database: str = "shop",
) -> PgServer:
    """initdb + pg_ctl start in a temporary folder; create ``user`` and ``database``."""
    bin_dir = find_bin_dir()
    assert bin_dir is not None
    folder = Path(tempfile.mkdtemp(prefix="clvmodels-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, sock = folder / "data", folder / "socket"
    try:
        for sub in (data, sock):
            subprocess.run([*run_as, "mkdir", "-m", "700", str(sub)], check=True)
        subprocess.run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            [
                *run_as,
                str(bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-s",
                "-l",
                str(folder / "server.log"),
                "-o",
                options,
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = folder / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        stderr = getattr(exc, "stderr", b"") or b""
        message = f"could not start PostgreSQL: {exc}: {stderr.decode()} {detail}"
        raise RuntimeError(message) from None
    server = PgServer(folder, bin_dir, port, user, password, database, run_as)
    try:
        with server.admin() as con:
            con.execute("SET password_encryption = 'scram-sha-256'")
            con.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            con.execute(f"CREATE DATABASE {database} OWNER {user}")
    except Exception:
        server.stop()
        raise
    return server

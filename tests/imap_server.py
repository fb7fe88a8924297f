"""A real IMAP server for tests: Dovecot, started in a temp dir with its own config,
passwd file and Maildir, listening on a free loopback port. Mail is put in with IMAP
APPEND (RFC 3501 6.3.11), as any client would."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.peers import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "imap-test-password-1"


def available() -> bool:
    return os.path.exists(DOVECOT)


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_uid = {user}
mail_gid = {group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class Dovecot:
    def __init__(self):
        # Its own folder straight under /tmp: dovecot's processes run as the `dovecot`
        # user, who cannot enter pytest's private (0700) temp folders.
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> Dovecot:
        account = pwd.getpwnam("dovecot")
        for folder in ("run", "state", "mail", "home"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.root / "dovecot.conf").write_text(CONFIG.format(
            root=self.root, port=self.port, user="dovecot", group="dovecot"))
        for folder in ("mail", "home"):
            shutil.chown(self.root / folder, account.pw_uid, account.pw_gid)
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot stopped: {self.process.stderr.read().decode()} "
                                   f"{self._log()}")
            try:
                with imaplib.IMAP4("127.0.0.1", self.port, timeout=2) as client:
                    client.login(USER, PASSWORD)
                    return self
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self._log()}")

    def _log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            typ, detail = client.append(folder, None, None, raw.replace(b"\r\n", b"\n")
                                        .replace(b"\n", b"\r\n"))
            assert typ == "OK", detail

    def count(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            typ, data = client.select(folder, readonly=True)
            assert typ == "OK", data
            return int(data[0])

    def empty(self) -> None:
        with self.client() as client:
            typ, folders = client.list()
            for line in folders or []:
                name = line.decode().rsplit(' "." ', 1)[-1].strip('"')
                typ, data = client.select(name)
                if typ == "OK" and int(data[0]):
                    client.store("1:*", "+FLAGS", "\\Deleted")
                    client.expunge()


@pytest.fixture(scope="module")
def dovecot():
    """A Dovecot for the module; import this fixture into a test module to use it."""
    if not available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/run does)")
    server = Dovecot().start()
    yield server
    server.stop()

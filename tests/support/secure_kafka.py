"""A SASL_SSL broker for tests (a plugin that tests/conftest.py registers): certificates made
here with openssl and keytool, the broker by `KAFKA_SECURITY=SASL_SSL scripts/local-kafka`."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local-kafka"
PORTS = range(19500, 19600)


@dataclass(frozen=True)
class Certificates:
    dir: Path
    ca: Path  # what clients trust (PEM)
    keystore: Path  # the broker's key and certificate (PKCS12)
    truststore: Path  # the CA, for the broker's own inter-broker connections (PKCS12)


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str
    cafile: Path
    username: str
    password: str
    mechanism: str = "SCRAM-SHA-512"
    output: str = ""  # what `local-kafka start` printed (it must not contain the password)


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def make_certificates(directory: Path) -> Certificates:
    """A CA and a broker certificate for 127.0.0.1/localhost signed by it, as the files
    `local-kafka` reads from KAFKA_SSL_DIR (keystore.p12, truststore.p12, store-password)."""
    d = directory
    password = d / "store-password"
    password.write_text(secrets.token_hex(16))
    password.chmod(0o600)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _run("openssl", "req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem",
         "-days", "2", "-subj", "/CN=orgsync test CA")  # fmt: skip
    _run("openssl", "req", *ec, "-keyout", d / "broker.key", "-out", d / "broker.csr",
         "-subj", "/CN=localhost")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run("openssl", "x509", "-req", "-in", d / "broker.csr", "-CA", d / "ca.pem",
         "-CAkey", d / "ca.key", "-CAcreateserial", "-days", "2", "-extfile", d / "san.ext",
         "-out", d / "broker.pem")  # fmt: skip
    _run("openssl", "pkcs12", "-export", "-in", d / "broker.pem", "-inkey", d / "broker.key",
         "-certfile", d / "ca.pem", "-name", "broker", "-out", d / "keystore.p12",
         "-passout", f"file:{password}")  # fmt: skip
    # keytool, not openssl: Java trusts only certificates stored with its own trust attribute.
    _run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", d / "ca.pem",
         "-keystore", d / "truststore.p12", "-storetype", "PKCS12",
         "-storepass:file", password)  # fmt: skip
    return Certificates(d, d / "ca.pem", d / "keystore.p12", d / "truststore.p12")


def free_ports(count: int, candidates: range = PORTS) -> list[int]:
    """`count` ports of `candidates` that nothing listens on now."""
    found = []
    for port in candidates:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Kafka binds
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"no {count} free ports in {candidates}")


def start_secure_broker(home: Path, username: str = "orgsync") -> SecureBroker:
    certificates = make_certificates(Path(tempfile.mkdtemp(prefix="certs-", dir=home)))
    port, controller_port = free_ports(2)
    password = secrets.token_urlsafe(18)
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_HOME_DIR": str(home / "broker"),
        "KAFKA_SECURITY": "SASL_SSL",
        "KAFKA_SSL_DIR": str(certificates.dir),
        "KAFKA_SASL_USERS": f"{username}:{password}",
    }
    env.pop("KAFKA_NODES", None)
    done = subprocess.run([SCRIPT, "start"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run([SCRIPT, "stop"], env=env, capture_output=True)
        raise RuntimeError(f"the SASL_SSL broker did not start:\n{done.stderr}")
    return SecureBroker(
        f"127.0.0.1:{port}", certificates.ca, username, password, output=done.stdout + done.stderr
    )


def stop_secure_broker(home: Path) -> None:
    env = {**os.environ, "KAFKA_HOME_DIR": str(home / "broker")}
    env.pop("KAFKA_NODES", None)
    # The pid file is all stop needs; the port only names the default home, unused here.
    subprocess.run([SCRIPT, "stop"], env=env, capture_output=True)


@pytest.fixture(scope="session")
def sasl_ssl_broker() -> Iterator[SecureBroker]:
    """A single SASL_SSL broker (SCRAM-SHA-256/512 and PLAIN) on a free port in 19500-19599,
    with one user, under a temporary home; stopped at the end of the session."""
    home = Path(tempfile.mkdtemp(prefix="orgsync-sasl-kafka-"))
    try:
        yield start_secure_broker(home)
    finally:
        stop_secure_broker(home)

"""Security basics: secrets never shown by the settings object, and the Kafka credentials the app
is built with follow KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_*; a real worker logging at debug level
never writes its secrets, and its HTTP server listens only where SWAY_WEB_HOST/SWAY_WEB_BIND say."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import faust
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from stream.pipeline.app import create_app
from stream.settings import load_settings
from tests.conftest import eventually
from tests.integration.conftest import running_worker

PASSWORD = "kafka-pw-3f9a1c"
TOKEN = "admin-tok-77e2b0"


def test_settings_never_show_secrets() -> None:
    s = load_settings(kafka_sasl_password=PASSWORD, admin_token=TOKEN, kafka_sasl_username="sway")
    for shown in (repr(s), str(s), s.model_dump_json(), repr(s.model_dump())):
        assert PASSWORD not in shown and TOKEN not in shown
    assert s.kafka_sasl_password.get_secret_value() == PASSWORD


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_the_app_is_built_with_the_configured_credentials(protocol: str, tmp_path: object) -> None:
    s = load_settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="sway",
        kafka_sasl_password=PASSWORD,
        data_dir=tmp_path,
    )
    app, _ = create_app(s)
    creds = app.conf.broker_credentials
    if protocol == "PLAINTEXT":
        assert creds is None
    elif protocol == "SSL":
        assert isinstance(creds, faust.SSLCredentials)
        assert isinstance(creds.context, ssl.SSLContext)
    else:
        assert isinstance(creds, faust.SASLCredentials)
        assert (creds.username, creds.password, creds.mechanism.value) == ("sway", PASSWORD, "SCRAM-SHA-512")
        assert creds.protocol.value == protocol
        assert (creds.ssl_context is not None) == (protocol == "SASL_SSL")
        assert PASSWORD not in repr(creds)


async def test_a_worker_logging_at_debug_level_never_writes_its_secrets(broker: str, tmp_path: Path) -> None:
    """Debug logging prints Kafka client configs, HTTP requests and Faust's internals; neither
    the SASL password nor the admin token may be among them, not even after a request that
    carried a (wrong) token."""
    env = {
        "SWAY_LOG_LEVEL": "debug",
        "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",  # still connects to the local broker
        "KAFKA_SASL_USERNAME": "sway",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "SWAY_ADMIN_TOKEN": TOKEN,
    }
    with running_worker(tmp_path, "secrets", **env) as w:
        now = int(time.time() * 1000)
        producer = AIOKafkaProducer(bootstrap_servers=w.settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            for i in range(5):
                event = {
                    "event_id": f"sec-{i}",
                    "type": "like",
                    "network": "twitter",
                    "actor_id": f"sec-a{i}",
                    "target_id": "sec-target",
                    "ts": now - 1000 + i,
                }
                await producer.send_and_wait(
                    w.settings.topic("interactions"), orjson.dumps(event), key=event["actor_id"].encode()
                )
        finally:
            await producer.stop()
        # processed: the target is known
        await eventually(
            lambda: w.get("/users/sec-target")[0] == 200, 60, "the events processed (GET /users 200)"
        )
        wrong = {"Authorization": "Bearer not-the-token"}
        assert w.request("DELETE", "/users/sec-target", headers=wrong)[0] == 403
        assert w.get("/users/sec-target")[0] == 200  # a wrong token erases nothing
    log = (tmp_path / "secrets.log").read_text(errors="replace")
    assert log.count("DEBUG") > 50, "the worker did not log at debug level:\n" + log[-2000:]
    for secret in (PASSWORD, TOKEN):
        assert secret not in log, [line for line in log.splitlines() if secret in line][:5]


def other_address() -> str | None:
    """A non-loopback IPv4 address of this machine, if it has one."""
    candidates = []
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False)
        candidates += [line.split()[3].split("/")[0] for line in out.stdout.splitlines() if " inet " in line]
    except OSError:
        pass
    candidates.append(socket.gethostbyname(socket.gethostname()))
    for addr in candidates:
        if not ipaddress.ip_address(addr).is_loopback:
            return addr
    return None


def answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=3) as r:
            return bool(r.status)
    except urllib.error.HTTPError:
        return True  # it answered, with an error status
    except OSError:
        return False


@pytest.mark.parametrize("bind", ["", "0.0.0.0"])
def test_the_http_server_listens_only_where_configured(broker: str, tmp_path: Path, bind: str) -> None:
    """SWAY_WEB_HOST=127.0.0.1 alone: reachable on loopback only; SWAY_WEB_BIND=0.0.0.0: on
    every address of the machine."""
    env = {"SWAY_WEB_HOST": "127.0.0.1", **({"SWAY_WEB_BIND": bind} if bind else {})}
    with running_worker(tmp_path, f"bind{bind or '-default'}", **env) as w:
        assert answers("127.0.0.1", w.port)
        addr = other_address()
        if addr is None:
            pytest.skip("this machine has no non-loopback IPv4 address to try")
        assert answers(addr, w.port) == (bind == "0.0.0.0"), (addr, w.port, bind)

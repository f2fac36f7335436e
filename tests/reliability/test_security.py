"""Security basics: secrets never shown by the settings object, and the Kafka credentials the app
is built with follow KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_*."""

from __future__ import annotations

import ssl

import faust
import pytest

from stream.pipeline.app import create_app
from stream.settings import load_settings

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

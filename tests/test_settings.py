"""Environment variables of CONTRACT.md: parsed once, with the documented defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stream.settings import Settings, load_settings, parse_duration

ENV_VARS = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "SWAY_TOPIC_PREFIX",
    "SWAY_PARTITIONS",
    "SWAY_WEB_HOST",
    "SWAY_WEB_PORT",
    "SWAY_ADMIN_TOKEN",
    "SWAY_STORE",
    "SWAY_DATA_DIR",
    "SWAY_DECAY_HALF_LIFE",
    "SWAY_DECAY_GRACE",
    "SWAY_DECAY_SWEEP_INTERVAL",
    "SWAY_DEDUP_HORIZON",
    "SWAY_MAX_FUTURE",
    "SWAY_EMIT_MIN_DELTA",
    "SWAY_LOG_LEVEL",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment: none of Sway's variables set."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400.0),
        ("7d", 7 * 86400.0),
        ("60s", 60.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("2m", 120.0),
        ("1w", 604800.0),
        ("45", 45.0),
        ("0.5", 0.5),
        (" 10 s ", 10.0),
        (12, 12.0),
        (2.5, 2.5),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "abc", "-5s", "5 years", "1.5.h", "5M", "ms", "d30", "1e3s", "10 d s"]
)
def test_bad_duration_raises(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_defaults_match_the_contract(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.kafka_bootstrap_servers == "localhost:9092"
    assert s.topic_prefix == ""
    assert s.partitions == 8
    assert s.web_port == 6066
    assert s.decay_half_life == 30 * 86400
    assert s.decay_grace == 7 * 86400
    assert s.decay_sweep_interval == 60
    assert s.admin_token.get_secret_value() == ""
    assert s.topic("interactions") == "interactions"
    assert s.app_id == "sway"
    assert s.bootstrap_is_local_default
    assert s.broker_url == "kafka://localhost:9092"


def test_environment_is_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    env.setenv("SWAY_TOPIC_PREFIX", "staging-")
    env.setenv("SWAY_PARTITIONS", "24")
    env.setenv("SWAY_DECAY_HALF_LIFE", "1.5h")
    env.setenv("SWAY_DECAY_GRACE", "250ms")
    env.setenv("SWAY_DECAY_SWEEP_INTERVAL", "5")
    env.setenv("SWAY_WEB_PORT", "7000")
    s = load_settings()
    assert s.kafka_bootstrap_servers == "k1:9092, k2:9093"
    assert s.broker_url == "kafka://k1:9092,kafka://k2:9093"
    assert not s.bootstrap_is_local_default
    assert s.topic_prefix == "staging-"
    assert s.topic("scores") == "staging-scores"
    assert s.app_id == "staging-sway"
    assert s.partitions == 24
    assert s.decay_half_life == 5400.0
    assert s.decay_grace == 0.25
    assert s.decay_sweep_interval == 5.0
    assert s.web_port == 7000


def test_overrides_beat_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("SWAY_PARTITIONS", "24")
    s = load_settings(partitions=3, decay_half_life="2d")
    assert s.partitions == 3
    assert s.decay_half_life == 2 * 86400


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SWAY_DECAY_HALF_LIFE", "thirty days"),
        ("SWAY_DECAY_GRACE", "-1d"),
        ("SWAY_PARTITIONS", "0"),
        ("SWAY_PARTITIONS", "many"),
        ("SWAY_STORE", "postgres"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS"),
    ],
)
def test_bad_environment_fails_at_startup(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ValidationError, match=name):  # the message names the variable
        load_settings()


def test_secrets_are_not_shown(env: pytest.MonkeyPatch) -> None:
    env.setenv("SWAY_ADMIN_TOKEN", "hunter2-admin")
    env.setenv("KAFKA_SASL_PASSWORD", "hunter2-kafka")
    s = load_settings()
    assert s.admin_token.get_secret_value() == "hunter2-admin"
    assert s.kafka_sasl_password.get_secret_value() == "hunter2-kafka"
    for text in (repr(s), str(s), s.model_dump_json(), repr(s.model_dump()), f"{s}"):
        assert "hunter2" not in text


def test_settings_are_frozen(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        s.partitions = 99
    assert isinstance(s, Settings)


def test_zero_half_life_is_rejected(env: pytest.MonkeyPatch) -> None:
    env.setenv("SWAY_DECAY_HALF_LIFE", "0")
    with pytest.raises(ValidationError):
        load_settings()


def test_network_weights_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from stream.core.params import params_from

    monkeypatch.setenv("SWAY_NETWORK_WEIGHTS", "YouTube=1.5, tiktok=0.8")
    settings = load_settings()
    params = params_from(86400, 0, 3600, settings.network_weight_overrides())
    assert params.network_weight("youtube") == 1.5
    assert params.network_weight("tiktok") == 0.8
    assert params.network_weight("twitter") == 1.0  # untouched default
    assert params.network_weight("mastodon") == params.default_network_weight


def test_malformed_network_weights_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAY_NETWORK_WEIGHTS", "youtube")
    with pytest.raises(ValueError, match="network=weight"):
        load_settings().network_weight_overrides()

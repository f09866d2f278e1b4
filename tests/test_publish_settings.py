"""MQTT settings: URL forms, where settings come from, and errors that never show a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopper.publish.settings import MqttSettingsError, mqtt_settings, parse_broker_url


@pytest.fixture(autouse=True)
def no_outside_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_CONFIG", str(tmp_path / "config.toml"))
    for name in ("URL", "PASSWORD", "SITE", "PREFIX", "QOS", "CA", "CERT", "KEY"):
        monkeypatch.delenv(f"SHOPPER_MQTT_{name}", raising=False)


def test_url_forms() -> None:
    plain = parse_broker_url("mqtt://broker.example")
    assert (plain.host, plain.port, plain.tls, plain.username) == (
        "broker.example",
        1883,
        False,
        None,
    )
    secure = parse_broker_url("mqtts://ops:s%40cret@10.0.0.5:9999")
    assert (secure.host, secure.port, secure.tls) == ("10.0.0.5", 9999, True)
    assert (secure.username, secure.password) == ("ops", "s@cret")
    assert parse_broker_url("mqtts://h").port == 8883
    assert secure.url == "mqtts://ops:***@10.0.0.5:9999"
    assert "s@cret" not in repr(secure)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://ops:hunter2@h", "scheme must be mqtt or mqtts"),
        ("mqtt://ops:hunter2@h:99999", "the port must be a number"),
        ("mqtt://ops:hunter2@h:0", "port 0 is not a port"),
        ("mqtt://ops:hunter2@", "no host name"),
        ("mqtt://ops:hunter2@h/topic", "unexpected path"),
    ],
)
def test_malformed_urls_are_one_line_without_the_password(url: str, says: str) -> None:
    with pytest.raises(MqttSettingsError) as raised:
        parse_broker_url(url)
    message = str(raised.value)
    assert says in message and "\n" not in message
    assert "hunter2" not in message and "ops:***@" in message


SECRET = "SECRETPASS"
MALFORMED = [
    f"mqtt:user:{SECRET}@127.0.0.1:18831",
    f"mqtt:/user:{SECRET}@127.0.0.1:18831",
    f"user:{SECRET}@127.0.0.1",
    f"user:{SECRET}@127.0.0.1:1883",
    f"mqtt://user:{SECRET}",
    f"mqtt://user:{SECRET}/x",
    f"mqtt://user:{SECRET}@",
    f"mqtt//user:{SECRET}@host",
    f"mqtt:///user:{SECRET}@host",
    f"http://user:{SECRET}@host",
    f" mqtt://user:{SECRET}@host:x",
    f"mqtt://user:{SECRET}@host:1883?x=1",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_no_url_shape_shows_the_password(url: str) -> None:
    with pytest.raises(MqttSettingsError) as raised:
        parse_broker_url(url)
    message = str(raised.value)
    assert SECRET not in message and "\n" not in message and "***" in message


@pytest.mark.parametrize("url", [f"mqtt://user:p@{SECRET}@host", f"mqtts://:{SECRET}@host"])
def test_odd_but_valid_urls_mask_the_whole_password(url: str) -> None:
    broker = parse_broker_url(url)
    assert broker.password is not None and SECRET in broker.password
    assert SECRET not in broker.url and SECRET not in repr(broker)


@pytest.mark.parametrize("command", [["publish", "--drain"], ["tail", "--count", "1"]])
def test_the_commands_never_print_a_malformed_urls_password(
    command: list[str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SHOPPER_CONFIG": str(tmp_path / "c.toml"),
        "XDG_STATE_HOME": str(tmp_path),
    }
    for url in MALFORMED[:3]:
        done = subprocess.run(
            [sys.executable, "-m", "shopper", *command, "--mqtt", url],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert SECRET not in done.stdout + done.stderr
        assert "***" in done.stdout + done.stderr


def test_a_malformed_url_keeps_publishing_on_and_says_why() -> None:
    settings = mqtt_settings({"url": "mqtt://ops:hunter2@h:x"})
    assert settings is not None and settings.broker is None
    assert settings.broker_problem is not None and "hunter2" not in settings.broker_problem


def test_no_url_anywhere_means_publishing_is_off() -> None:
    assert mqtt_settings({"site": "lab"}) is None


def test_command_line_beats_environment_beats_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text(
        '[mqtt]\nurl = "mqtt://from-file"\nsite = "file-site"\nprefix = "acme/qa"\nqos = 0\n'
    )
    monkeypatch.setenv("SHOPPER_MQTT_SITE", "env-site")
    monkeypatch.setenv("SHOPPER_MQTT_PASSWORD", "from-env")
    settings = mqtt_settings({"url": None, "qos": 2})
    assert settings is not None and settings.broker is not None
    assert settings.broker.host == "from-file" and settings.broker.password == "from-env"
    assert (settings.site, settings.prefix, settings.qos) == ("env-site", "acme/qa", 2)
    overridden = mqtt_settings({"url": "mqtt://u@cli-host", "site": "cli-site"})
    assert overridden is not None and overridden.broker is not None
    assert (overridden.broker.host, overridden.site) == ("cli-host", "cli-site")
    assert overridden.broker.url == "mqtt://u:***@cli-host:1883"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"site": "a/b"}, "--mqtt-site: site 'a/b' is not usable in a topic"),
        ({"prefix": "acme/#"}, "--mqtt-prefix: prefix 'acme/#' is not usable"),
        ({"qos": 3}, "--mqtt-qos: qos 3 must be a number 0..2"),
        ({"keepalive": 1}, "--mqtt-keepalive: keepalive 1 must be a number 5..65535"),
    ],
)
def test_topic_and_qos_mistakes_stop_before_any_call(given: dict[str, object], says: str) -> None:
    with pytest.raises(MqttSettingsError, match=says.replace("/", ".").replace("#", ".")):
        mqtt_settings({"url": "mqtt://h", **given})  # type: ignore[dict-item]


def test_config_file_mistakes_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[mqtt]\nurl = "mqtt://h"\nsitee = "x"\n')
    with pytest.raises(MqttSettingsError, match=r"config.toml: \[mqtt\] sitee is not a setting"):
        mqtt_settings({})


def test_tls_files_are_checked_when_read(tmp_path: Path) -> None:
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate")
    settings = mqtt_settings({"url": "mqtts://h", "ca": bad_ca})
    assert settings is not None and settings.broker is None
    assert settings.broker_problem is not None
    assert str(bad_ca) in settings.broker_problem and "--mqtt-ca" in settings.broker_problem
    with pytest.raises(MqttSettingsError, match="need an mqtts:// URL"):
        parse_broker_url("mqtt://h", {"ca": (bad_ca, "--mqtt-ca")})
    with pytest.raises(MqttSettingsError, match="is not a file"):
        parse_broker_url("mqtts://h", {"ca": (tmp_path / "missing.pem", "--mqtt-ca")})

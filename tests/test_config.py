"""Hall files and settings: a broken one is named in one line with its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from queue_server.config import ConfigError, load_hall, load_halls
from queue_server.protocol import NOTICE_KINDS
from queue_server.settings import Settings, SettingsError, parse_mqtt_url
from tests.conftest import DEMO

DEMO_TEXT = DEMO.read_text(encoding="utf-8")


def broken(tmp_path: Path, old: str, new: str) -> str:
    assert old in DEMO_TEXT
    path = tmp_path / "hall.toml"
    path.write_text(DEMO_TEXT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_hall(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_demo_hall() -> None:
    hall = load_hall(DEMO)
    assert hall.service_ids == ["A", "B", "C", "D"]  # D: 缴费, a second step
    assert [w.id for w in hall.windows] == ["1", "2", "3", "4", "5", "6", "7"]
    served = [set(w.services) for w in hall.windows]
    assert any(len(a & b) and a != b for a in served for b in served)  # overlapping services
    assert hall.uses_demo_tokens()
    assert hall.hall.name.get("en").startswith("Demo")


def test_broken_files_name_file_and_field(tmp_path: Path) -> None:
    assert "not valid TOML" in broken(tmp_path, 'id = "demo"', 'id = "demo')
    assert "windows.3.services: unknown service 'Z'" in broken(
        tmp_path, "services = { B = 0, A = 10 }", "services = { B = 0, Z = 10 }"
    )
    assert "windows.1.token_sha256" in broken(
        tmp_path, 'token_sha256 = "389a', 'token_sha256 = "zz9a'
    )
    assert "queue.recall_limit" in broken(tmp_path, "recall_limit = 2", "recall_limit = -1")
    assert "hall.timezone: unknown time zone" in broken(
        tmp_path, 'timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"'
    )
    assert "hours.mon" in broken(tmp_path, 'mon = ["08:30-17:30"]', 'mon = ["17:30-08:30"]')
    assert "services.B.avg_minutes" in broken(tmp_path, "avg_minutes = 8", "avg_minutes = -8")
    assert "duplicate id '2'" in broken(tmp_path, 'id = "3"', 'id = "2"')
    assert "hall.colour" in broken(tmp_path, "[hall]\n", '[hall]\ncolour = "red"\n')


def test_every_notice_kind_has_a_provider_template(tmp_path: Path) -> None:
    sms = load_hall(DEMO).sms
    for templates in (sms.aliyun, sms.tencent):
        assert sorted(templates) == sorted(NOTICE_KINDS)
    line = 'appointment_reminder = { template = "1000007", params = ["service", "slot", "code"] }\n'
    said = broken(tmp_path, line, "")
    assert said.endswith("sms: [sms.tencent] has no template for appointment_reminder"), said
    assert "unknown notice kind 'called_twice'" in broken(
        tmp_path, 'called = { template = "1000003"', 'called_twice = { template = "1000003"'
    )


def test_folder_of_halls(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(DEMO_TEXT, encoding="utf-8")
    (tmp_path / "b.toml").write_text(
        DEMO_TEXT.replace('id = "demo"', 'id = "town"', 1), encoding="utf-8"
    )
    assert sorted(load_halls(tmp_path)) == ["demo", "town"]
    (tmp_path / "c.toml").write_text(DEMO_TEXT, encoding="utf-8")
    with pytest.raises(ConfigError, match="'demo' is already used"):
        load_halls(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no hall files"):
        load_halls(tmp_path / "empty")


def test_settings(tmp_path: Path) -> None:
    s = Settings.from_env({"HALLCALL_CONFIG": str(DEMO)})
    assert (s.redis_url, s.http_port, s.lang) == ("redis://127.0.0.1:6390/0", 8080, "zh")
    assert (s.mqtt.host, s.mqtt.port) == ("127.0.0.1", 1884)
    assert Settings.from_env({"HALLCALL_CONFIG": str(DEMO)}, lang="en").lang == "en"
    m = parse_mqtt_url("mqtt://hallcall-server:p%40ss@broker:1999")
    assert (m.username, m.password, m.host, m.port) == ("hallcall-server", "p@ss", "broker", 1999)
    for env, name in [
        ({"HALLCALL_LANG": "fr"}, "HALLCALL_LANG"),
        ({"HALLCALL_HTTP": "8080"}, "HALLCALL_HTTP"),
        ({"HALLCALL_MQTT_URL": "http://x"}, "HALLCALL_MQTT_URL"),
        ({"HALLCALL_REDIS_URL": "localhost"}, "HALLCALL_REDIS_URL"),
        ({"HALLCALL_CONFIG": str(tmp_path / "missing")}, "HALLCALL_CONFIG"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({"HALLCALL_CONFIG": str(DEMO), **env})

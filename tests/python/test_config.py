"""The config file contract: documented keys accepted, unknown keys and bad values refused."""

import pytest

from conftest import STARLING_DEFAULTS, RawToml, assert_broker_serves, run_to_exit, to_toml


def test_full_documented_config_is_accepted(broker_factory):
    b = broker_factory(STARLING_DEFAULTS)
    assert_broker_serves(b)
    assert_broker_serves(b, protocol=4)


def run_with_config(tmp_path, text: str, timeout: float = 10):
    return run_to_exit(tmp_path, text, timeout=timeout)


BAD = [
    ("unknown-key", {"mqtt": {"no_such_setting": 1}}, ["no_such_setting"]),
    ("unknown-session-key", {"session": {"max_queued_msgs": 5}}, ["max_queued_msgs"]),
    ("qos-3", {"mqtt": {"max_qos_allowed": 3}}, ["max_qos_allowed", "3"]),
    ("strategy", {"mqtt": {"shared_subscription_strategy": "fastest"}}, ["shared_subscription_strategy", "fastest"]),
    ("wrong-type", {"mqtt": {"max_packet_size": "big"}}, ["max_packet_size", "big"]),
    ("bool-type", {"mqtt": {"retain_available": RawToml("maybe")}}, []),
    ("negative", {"session": {"max_queued_messages": -5}}, ["max_queued_messages", "-5"]),
    ("multiplier", {"mqtt": {"keepalive_multiplier": "fast"}}, ["keepalive_multiplier", "fast"]),
]


# Starling's own config file and exit status: nothing to compare in Mosquitto.
@pytest.mark.starling_only
@pytest.mark.parametrize("name,sections,named", BAD, ids=[b[0] for b in BAD])
def test_config_error_exits_2_naming_key_and_value(tmp_path, name, sections, named):
    text = to_toml(sections)
    rc, stderr = run_with_config(tmp_path, text)
    assert rc == 2, f"exit status {rc}; stderr:\n{stderr}"
    lines = [x for x in stderr.splitlines() if "starling: config error:" in x]
    assert lines, f"no 'starling: config error:' line in stderr:\n{stderr}"
    for word in named:
        assert any(word in x for x in lines), f"{word!r} not named in {lines}"


# Starling's own config file and exit status: nothing to compare in Mosquitto.
@pytest.mark.starling_only
def test_config_file_that_is_not_toml(tmp_path):
    rc, stderr = run_with_config(tmp_path, "[mqtt\nmax_qos_allowed = \n")
    assert rc == 2, stderr
    assert "starling: config error:" in stderr

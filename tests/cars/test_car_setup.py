"""`dojo car init | check | install-service | neutral` as real subprocesses, and the DonkeyCar import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from robot_runtime.car_setup import unit_text
from robot_runtime.config import load_car_config
from robot_runtime.donkeycar_import import DonkeyConfigError, hardware_from_donkeycar

pytestmark = pytest.mark.timeout(120)
MOCK_PINS = {"GPIOZERO_PIN_FACTORY": "mock", "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin"}

DONKEY_NEW = '''
import os
CAR_PATH = PACKAGE_PATH = os.path.dirname(os.path.realpath(__file__))
DRIVE_TRAIN_TYPE = "PWM_STEERING_THROTTLE"
PWM_STEERING_THROTTLE = {
    "PWM_STEERING_PIN": "PCA9685.1:40.1",
    "PWM_STEERING_SCALE": 1.0,
    "PWM_STEERING_INVERTED": False,
    "PWM_THROTTLE_PIN": "PCA9685.1:40.0",
    "PWM_THROTTLE_SCALE": 1.0,
    "PWM_THROTTLE_INVERTED": False,
    "STEERING_LEFT_PWM": 460,
    "STEERING_RIGHT_PWM": 290,
    "THROTTLE_FORWARD_PWM": 500,
    "THROTTLE_STOPPED_PWM": 370,
    "THROTTLE_REVERSE_PWM": 220,
}
'''
DONKEY_OLD = '''
PCA9685_I2C_ADDR = 0x41
PCA9685_I2C_BUSNUM = 0
DRIVE_TRAIN_TYPE = "I2C_SERVO"
STEERING_CHANNEL = 3
STEERING_LEFT_PWM = 540
STEERING_RIGHT_PWM = 250
THROTTLE_CHANNEL = 2
THROTTLE_FORWARD_PWM = 480
THROTTLE_STOPPED_PWM = 370
THROTTLE_REVERSE_PWM = 300
'''


def dojo(*args, env=None, cwd=None, input=None):
    return subprocess.run([sys.executable, "-m", "dojo", "car", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, cwd=cwd, input=input)


def us(counts):  # DonkeyCar counts of a 60 Hz, 12-bit frame, by hand
    return round(counts / 4096 / 60 * 1e6)


def test_donkeycar_configs_become_pca9685_options(tmp_path):
    new = tmp_path / "myconfig.py"
    new.write_text(DONKEY_NEW)
    kind, opts = hardware_from_donkeycar(new)
    assert kind == "pca9685"
    assert opts["throttle"] == {"neutral_us": us(370), "forward_max_us": us(500), "reverse_max_us": us(220)}
    assert opts["steering"] == {"center_us": round((us(460) + us(290)) / 2), "left_us": us(460), "right_us": us(290)}
    assert (opts["i2c_bus"], opts["address"], opts["throttle_channel"], opts["steering_channel"]) == (1, 0x40, 0, 1)
    old = tmp_path / "config.py"
    old.write_text(DONKEY_OLD)
    kind, opts = hardware_from_donkeycar(old)
    assert (opts["i2c_bus"], opts["address"], opts["throttle_channel"], opts["steering_channel"]) == (0, 0x41, 2, 3)
    bad = tmp_path / "bad.py"
    bad.write_text('DRIVE_TRAIN_TYPE = "DC_TWO_WHEEL"\n')
    with pytest.raises(DonkeyConfigError, match="DC_TWO_WHEEL"):
        hardware_from_donkeycar(bad)


def test_init_from_donkeycar_writes_a_private_config_the_car_loads(tmp_path):
    (tmp_path / "myconfig.py").write_text(DONKEY_NEW)
    out = dojo("init", "car.yaml", "--from-donkeycar", "myconfig.py", "--car-id", "car-7", "--server",
               "http://10.0.0.5:8080", "--yes", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cfg = load_car_config(tmp_path / "car.yaml")
    assert cfg.hardware == "pca9685" and cfg.car_id == "car-7"
    assert cfg.hardware_options["throttle"]["neutral_us"] == us(370)
    assert (tmp_path / "car.yaml").stat().st_mode & 0o077 == 0  # it holds the token: owner only
    again = dojo("init", "car.yaml", "--yes", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_init_asks_nothing_with_yes_and_writes_gpio_defaults(tmp_path):
    out = dojo("init", "--yes", "--car-id", "car-3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = yaml.safe_load((tmp_path / "car.yaml").read_text())
    assert data["hardware"] == "gpio" and data["hardware_options"]["esc_pin"] == 12
    arena = yaml.safe_load((tmp_path / data["arena_file"]).read_text())
    assert (arena["width_cm"], arena["height_cm"]) == (300, 300)  # the car's own floor: its outer fence
    assert load_car_config(tmp_path / "car.yaml").arena_file == str(tmp_path / "car-arena.yaml")
    assert data["hardware_options"]["distance"] == {"trigger_pin": 23, "echo_pin": 24}


def test_check_on_fake_pins_prints_one_line_per_device_and_fails_on_a_dead_sensor(tmp_path):
    (tmp_path / "arena.yaml").write_text("name: floor\nwidth_cm: 300\nheight_cm: 300\n")
    (tmp_path / "car.yaml").write_text(yaml.safe_dump({
        "car_id": "car-3", "hardware": "gpio", "server_url": "http://127.0.0.1:9", "arena_file": "arena.yaml",
        "hardware_options": {"pin_factory": "mock", "distance": {"trigger_pin": 23, "echo_pin": 24},
                             "encoder": {"pin": 5, "cm_per_tick": 0.5}, "stop_button_pin": 26}}))
    out = dojo("check", "car.yaml", cwd=tmp_path)
    lines = out.stdout.splitlines()
    assert out.returncode == 1, out.stdout + out.stderr
    assert any(line.split()[:2] == ["ok", "esc"] and "50 Hz, 1500 µs" in line for line in lines), out.stdout
    assert any(line.split()[:2] == ["ok", "steering"] for line in lines)
    assert any(line.split()[:2] == ["FAIL", "distance"] and "divider" in line for line in lines)  # fake pins: no echo
    assert any(line.split()[:3] == ["ok", "stop", "button"] for line in lines)
    assert any(line.split()[:2] == ["FAIL", "server"] for line in lines)
    assert any(line.split()[:2] == ["warn", "token"] for line in lines)
    assert "2 problem(s)" in out.stdout


def test_check_hardware_gpio_with_mock_pins_and_no_config_runs():
    out = dojo("check", "--hardware", "gpio", env=MOCK_PINS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pin guard" in out.stdout and "all good" in out.stdout


def test_install_service_writes_a_unit_that_restarts_and_goes_neutral_after_any_stop(tmp_path):
    (tmp_path / "arena.yaml").write_text("name: floor\nwidth_cm: 300\nheight_cm: 300\n")
    (tmp_path / "car.yaml").write_text("car_id: car-3\nhardware: gpio\narena_file: arena.yaml\n")
    out = dojo("install-service", "car.yaml", "--unit-dir", str(tmp_path), "--user", "pi", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    unit = (tmp_path / "dojo-car.service").read_text()
    assert unit == unit_text(tmp_path / "car.yaml", "pi")
    lines = set(unit.splitlines())
    assert {"Restart=always", "WantedBy=multi-user.target", "User=pi", "StartLimitIntervalSec=0"} <= lines
    assert f"ExecStart={sys.executable} -m dojo car {tmp_path / 'car.yaml'}" in lines
    assert f"ExecStopPost={sys.executable} -m dojo car neutral {tmp_path / 'car.yaml'}" in lines
    bad = dojo("install-service", "nope.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_neutral_command_sets_neutral_and_releases(tmp_path):
    (tmp_path / "arena.yaml").write_text("name: floor\nwidth_cm: 300\nheight_cm: 300\n")
    (tmp_path / "car.yaml").write_text("car_id: car-3\nhardware: gpio\narena_file: arena.yaml\n"
                                       "hardware_options: {pin_factory: mock}\n")
    assert dojo("neutral", "car.yaml", cwd=tmp_path).returncode == 0
    (tmp_path / "car.yaml").write_text("car_id: car-3\nhardware: serial\narena_file: arena.yaml\n"
                                       "hardware_options: {port: /dev/ttyNOPE}\n")
    out = dojo("neutral", "car.yaml", cwd=tmp_path)
    assert out.returncode == 1 and "/dev/ttyNOPE" in out.stderr


def test_init_with_mock_pins_writes_a_rehearsal_car_that_check_finds_all_good(tmp_path):
    """--pin-factory mock: fake pins that drive a simulated car, whose distance sensor hears its echoes."""
    out = dojo("init", "--yes", "--car-id", "car-9", "--pin-factory", "mock", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = yaml.safe_load((tmp_path / "car.yaml").read_text())
    assert data["hardware_options"]["pin_factory"] == "mock" and data["hardware_options"]["plant"] is True
    check = dojo("check", "car.yaml", "--no-server", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert any(line.split()[:2] == ["ok", "distance"] for line in check.stdout.splitlines()), check.stdout

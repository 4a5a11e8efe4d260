"""on_obstacle's promise, on the SDK's own trigger: once per approach, however noisy the sensor."""

from dojo.events import OBSTACLE_HYSTERESIS_CM, ObstacleWatcher


def fires(distances, threshold=20.0):
    watcher = ObstacleWatcher(threshold, lambda: None)
    return [d for d in distances if watcher.update(d)]


def test_on_obstacle_fires_once_when_the_distance_drops_below_the_threshold():
    assert fires([None, 80, 50, 30, 21, 19.5, 15, 10, 9]) == [19.5]


def test_on_obstacle_ignores_sensor_noise_around_the_threshold():
    noisy = [25, 19.9, 20.5, 19.8, 21.0, 19.0, 22.0, 18.0, 24.9]  # never beyond threshold + hysteresis
    assert fires(noisy) == [19.9]


def test_on_obstacle_fires_again_after_the_obstacle_went_away_beyond_the_hysteresis():
    away = 20 + OBSTACLE_HYSTERESIS_CM + 0.1
    assert fires([30, 15, away, 15]) == [15, 15]
    assert fires([30, 15, None, 12]) == [15, 12]  # nothing in range also re-arms

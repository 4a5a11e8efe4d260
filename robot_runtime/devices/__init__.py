"""Small devices a real car is built from, each independent of how its signal reaches the wire:

    pulses.py      calibration (µs per direction) and the fraction -> pulse maps, clamped to the calibration
    esc.py         the ESC: arming, dead band, brake-then-reverse
    servo.py       the steering servo: trim and range
    ultrasonic.py  HC-SR04 distance sensor on two gpiozero pins, its own thread, faults as data
    encoder.py     a wheel encoder (one hall/optical channel) counting on a gpiozero pin
    battery.py     battery voltage through an MCP3008 ADC, with low-voltage warning
    stop_button.py a physical stop button that latches the car's e-stop

Pins come from an injected gpiozero pin factory (MockFactory in tests and `dojo car check` on a laptop).
"""

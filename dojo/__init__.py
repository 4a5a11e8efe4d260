"""MIKRO-DOJO's Python SDK: drive your classroom car from Python.

    import dojo
    car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Mia")
    car.forward(30)
    car.turn_left(90)
    print(car.x, car.y, car.heading, car.distance())
    car.stop()
    print(dojo.plan("forward 30 then turn left", "http://127.0.0.1:8080", class_code="DEMO", name="Mia"))

``dojo.plan`` (and ``car.plan``) turns a sentence into a program as Python text to read; it runs nothing.
Errors: ``dojo.Refused`` (the level does not allow it yet), ``dojo.CarError`` (the car could not
finish), ``dojo.Stopped`` (a stop ended the move), ``dojo.ConnectionError`` (the classroom is gone);
``str(error)`` is the kid text, ``error.detail`` the teacher's.
"""

from dojo.errors import ArgumentError, CarError, ConnectionError, DojoError, Refused, Stopped
from dojo.tell import plan
from dojo.sdk import Car, connect

__all__ = ["connect", "plan", "Car", "DojoError", "Refused", "CarError", "Stopped", "ConnectionError", "ArgumentError"]

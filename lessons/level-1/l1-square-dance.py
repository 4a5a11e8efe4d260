# Square dance — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

for count in range(4):
    car.forward(60)
    car.turn_left(90)
car.stop()

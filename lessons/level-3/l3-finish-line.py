# Stop on the line — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

while not (car.x > 265):
    car.forward(10)
car.stop()

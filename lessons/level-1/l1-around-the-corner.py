# Around the corner — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

car.forward(100)
car.turn_left(90)
car.forward(110)
car.stop()

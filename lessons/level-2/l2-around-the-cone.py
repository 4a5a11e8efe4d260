# Around the cone — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

car.forward(40)
car.turn_left(45)
car.forward(40)
car.turn_right(90)
car.forward(40)
car.turn_left(45)
car.forward(60)
car.stop()

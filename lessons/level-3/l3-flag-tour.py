# Flag tour — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

car.go_to(300, 70)
car.go_to(320, 230)
car.go_to(100, 230)
car.stop()

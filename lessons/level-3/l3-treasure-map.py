# Treasure map — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

car.go_to(260, 50)
car.go_to(320, 220)
car.stop()

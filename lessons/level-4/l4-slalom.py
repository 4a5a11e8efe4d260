# Cone slalom — made with MIKRO-DOJO blocks
import dojo

car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Kid")

car.do("slalom")
car.stop()

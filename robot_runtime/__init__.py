"""The program that runs on every car (a Raspberry Pi RC car or a simulated one).

Must not import server code, torch or opencv: it installs on a Pi with `pip install mikro-dojo[car]`.
"""

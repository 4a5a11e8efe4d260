"""The classroom server (aiohttp + python-socketio), one folder per audience (docs/architecture.md):

- ``core/``     the classroom domain (no web imports): Classroom, dispatch, events, presence, storage
- ``web/``      plumbing every audience shares: state keys, guards, errors, origin rule, fan-out, pages
- ``kids/``     the /kid socket, the kid API, saved programs, the Blockly page
- ``scratch/``  the Scratch-Link endpoint /scratch/ble, the extension file, the Scratch editor
- ``cars/``     the /car socket: the one adapter to the cars
- ``teacher/``  the teacher API, the /teacher socket, the console, progress, CSV, e-stop latency
- ``lessons/``  attempts: recorded, graded, fed back (store <- service <- routes)
- root: ``app.py`` (builds the app), ``runner.py``, ``main.py`` (`dojo server`), ``demo.py`` (`dojo demo`)
"""

"""The classroom server: aiohttp + python-socketio; block -> skill translation, gate, dispatch, storage."""

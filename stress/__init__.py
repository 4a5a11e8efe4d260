"""Reliability under load and bad input, proven with figures: `make soak` (stress/soak.py) and `make fuzz`
(stress/fuzz.py). Everything they start is real and on 127.0.0.1: the classroom server as `dojo server`
runs it (its own process, so it can be stalled with SIGSTOP and killed with SIGKILL), car runtimes with
the simulator, socket.io and WebSocket clients; only the coach model is a local stand-in app."""

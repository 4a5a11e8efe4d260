"""The classroom domain: who is who, which car runs what, what happened. No aiohttp, no socket.io.

- ``classroom.Classroom``: the one service every front end calls (join, run_block, runs, stops, arenas);
  built with its ``car_port.CarPort`` (server/cars implements it).
- ``dispatch``: per-car queues, one final answer per request; ``events``: the event bus; ``presence``:
  who is online over any transport; ``lesson_book``: what the lessons feature tells the others;
  ``storage``, ``auth``, ``config``, ``types``.

Events (``classroom.events``): telemetry, block_result, run_started, run_ended, safety, car_connected,
car_disconnected, kid_joined, level_changed, assignment_changed, estop, arena_changed, attempt_graded
(arguments: server/core/events.py). Features talk to each other only through these and core state.
"""

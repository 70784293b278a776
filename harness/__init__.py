"""The development harness that the tests and scripts/ share, and nothing else does.

It starts the stack as production runs it, on free loopback ports and in processes of
its own (the standalone emulator, gunicorn, nginx, and a PostgreSQL cluster and a Redis
server of its own: `servers`, `services`), builds the production-like environment those
processes run in (`environment`), and signs people in over HTTP through the emulator's
consent page (`browser`). It is a development tool: not an installed app, never imported
by the site, and it imports neither Django's settings nor anything from tests/.
"""

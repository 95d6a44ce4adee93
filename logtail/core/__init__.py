"""The core: lines, positions, the hub's windows and fan-out, and delivery to each client.

It knows no log source and no route: sources publish into the hub, the web layer opens subscriptions.

- lines: bytes -> complete lines; block: a batch of clean lines as bytes; frames: SSE/NDJSON/text framing.
- cursor: durable positions (the ids); positions: where a position is in a window.
- hub: each log's window and the fan-out; subscription: one client's bounded queue; catchup: a lagging log.
- rawresponse, directwrite, fileresponse, ranges: raw ASGI responses and how their bytes reach a socket.
- offloop: the one way blocking reads leave the event loop.
"""

"""The seeds' gevent echo server (upper-cased), for bench/echo.mjs. Prints its port."""
import sys

from gevent.server import StreamServer


def handle(sock, address):
    while True:
        data = sock.recv(1024)
        if not data:
            break
        sock.sendall(data.upper())


server = StreamServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), handle, backlog=65535)
server.start()
print(server.server_port, flush=True)
server.serve_forever()

"""Run app.py with every outgoing connection attempt recorded (a Python audit hook on socket.connect
and name look-ups), one line per event, into the file named by AVATAR_EGRESS_LOG."""

from __future__ import annotations

import os
import sys
import threading

LOG_PATH = os.environ["AVATAR_EGRESS_LOG"]
_lock = threading.Lock()


def _record(kind: str, target: object) -> None:
    with _lock, open(LOG_PATH, "a", encoding="utf-8") as log:
        log.write(f"{kind}\t{target!r}\n")


# Every way a name or address is looked up (aioice, for one, uses gethostbyname for STUN servers) and every
# way a connection or a datagram is addressed.
RESOLVE_EVENTS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo"})


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        _record("connect", args[1])
    elif event in RESOLVE_EVENTS:
        _record("resolve", args[0])
    elif event in ("socket.sendto", "socket.sendmsg"):
        _record("sendto", args[1])


sys.addaudithook(_audit)

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    sys.argv = ["app.py", *sys.argv[1:]]
    import app

    sys.exit(app.main())

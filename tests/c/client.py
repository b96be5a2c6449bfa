"""The real Socket.IO client side of the C tests: python-socketio, WebSocket transport.

Usage: client.py SCENARIO PORT. Exits 0 when every expectation of the scenario held.
"""

import contextlib
import os
import sys
import threading
import time

import socketio

# tests/support/ferrosocket_testing.py: the bounded wait the Python suites use too.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ferrosocket_testing import wait_until  # noqa: E402

SCENARIO, PORT = sys.argv[1], int(sys.argv[2])
URL = f"http://127.0.0.1:{PORT}"


def fail(message):
    print(f"client.py {SCENARIO}: {message}", file=sys.stderr)
    sys.exit(1)


def expect(cond, message):
    if not cond:
        fail(message)


def connect(client, query="", auth=None, headers=None):
    client.connect(URL + query, auth=auth, headers=headers or {}, transports=["websocket"], wait_timeout=5)


def events():
    # Refused: the C connect callback refuses token "bad" with a message and JSON data.
    refused = socketio.Client()
    seen = {}
    refused.on("connect_error", lambda data: seen.setdefault("data", data))
    try:
        connect(refused, auth={"token": "bad"})
        fail("connect with a bad token was accepted")
    except socketio.exceptions.ConnectionError:
        pass  # python-socketio's text is generic; the message and data come to connect_error
    expect(seen.get("data") == {"message": "unauthorized", "data": {"code": 401}},
           f"refusal data: {seen.get('data')}")

    sio = socketio.Client()
    news, answered, gone = threading.Event(), threading.Event(), threading.Event()
    got = {}
    sio.on("news", lambda *args: (got.setdefault("news", args), news.set()))
    sio.on("welcome", lambda *args: got.setdefault("welcome", args))
    sio.on("question", lambda text: f"answer to {text}")
    sio.on("answered", lambda *args: (got.setdefault("answered", args), answered.set()))
    sio.on("disconnect", lambda *args: gone.set())
    connect(sio, query="?user=ann", auth={"token": "secret"}, headers={"X-Test": "yes"})

    expect(sio.call("echo", (1, "two", {"three": 3}), timeout=5) == (1, "two", {"three": 3}), "echo")
    expect(sio.call("echo", "é ü 😀", timeout=5) == "é ü 😀", "echo unicode")
    reply = sio.call("bin", b"\x00\x01\x02", timeout=5)
    expect(reply == (b"\x02\x01\x00", 3), f"binary ack: {reply!r}")
    expect(sio.call("later", 5, timeout=5) == ("later", 5), "deferred ack from another thread")
    rooms = sio.call("rooms", timeout=5)
    expect(rooms == [sio.get_sid("/"), "lobby"], f"rooms: {rooms}")
    expect(sio.call("handshake", timeout=5) == "ann yes secret", "handshake seen by the connect callback")
    expect(got.get("welcome") == ("hello ann",), f"welcome emitted from the connect callback: {got}")
    sio.emit("shout", {"text": "hi"})
    expect(news.wait(5), "news to the room")
    expect(got["news"] == ({"text": "hi"}, b"\xff"), f"news: {got['news']!r}")
    sio.emit("ask")
    expect(answered.wait(5), "server-to-client ack came back")
    expect(got["answered"] == ('["answer to q?"]',), f"answered: {got['answered']!r}")
    sio.emit("bye")
    expect(gone.wait(5), "server disconnect")
    sio.disconnect()


def concurrency():
    slow, fast, ordered = socketio.Client(), socketio.Client(), socketio.Client()
    for client in (slow, fast, ordered):
        connect(client)
    result = {}

    def call_slow():
        result["slow"] = slow.call("slow", timeout=10)

    thread = threading.Thread(target=call_slow)
    thread.start()
    time.sleep(0.2)  # the slow callback is now blocking a dispatch thread
    started = time.monotonic()
    for n in range(5):
        expect(fast.call("fast", n, timeout=5) == n, "fast ack")
    elapsed = time.monotonic() - started
    expect(elapsed < 0.6, f"another client's slow callback delayed this one: {elapsed:.2f}s")
    thread.join()
    expect(result.get("slow") == "done", "slow ack")

    for n in range(300):
        ordered.emit("seq", n)
    expect(ordered.call("seq_done", timeout=10) == [300, True], "events of one client in order")
    for client in (slow, fast, ordered):
        client.disconnect()


def linger():
    sio = socketio.Client()
    gone = threading.Event()
    sio.on("disconnect", lambda *args: gone.set())
    connect(sio)
    sio.emit("ready")
    expect(gone.wait(15), "disconnected by the server's stop/free")
    sio.disconnect()


def extras():
    a, b, c = socketio.Client(), socketio.Client(), socketio.Client()
    got = {"a": [], "b": [], "c": []}
    for name, client in (("a", a), ("b", b), ("c", c)):
        client.on("f", lambda arg, name=name: got[name].append(arg))
    answered = {}
    answer_came = threading.Event()

    def slow_question(*args):
        time.sleep(1.0)  # longer than the server's ack timeout
        return "too late"

    a.on("slowq", slow_question)
    a.on("quickq", lambda *args: ["quick", *args])
    a.on("result", lambda *args: (answered.setdefault(args[0], args[1:]), answer_came.set()))
    connect(a, headers={"X-Test": "yes", "X-Second": " padded "})
    connect(b)
    connect(c)

    # on_any: events without their own callback, and only those.
    expect(a.call("unhandled_thing", 7, timeout=5) == ["any", "unhandled_thing", [7]], "on_any")
    expect(a.call("named", timeout=5) == "named", "an event with its own callback skips on_any")

    # Handshake headers and remote address, as seen by the connect and event callbacks.
    who = a.call("whoami", timeout=5)
    expect(isinstance(who, list) and len(who) == 3, f"whoami: {who!r}")
    expect(who[0] == "headers ok", f"headers: {who[0]!r}")
    expect(who[1].startswith("127.0.0.1:") and who[1] == who[2], f"remote addresses: {who!r}")
    expect(int(who[1].split(":")[1]) > 0, f"remote port: {who[1]}")

    # Broadcast to several rooms: a is in r1 and r2, b in r2 and r3, c in r3.
    expect(a.call("join", ["r1", "r2"], timeout=5) == "joined", "a joins")
    expect(b.call("join", ["r2", "r3"], timeout=5) == "joined", "b joins")
    expect(c.call("join", ["r3"], timeout=5) == "joined", "c joins")
    taken = a.call("join_sid_room", b.get_sid("/"), timeout=5)
    expect(taken == "FERROSOCKET_RESULT_SID_ROOM", f"joining b's own room: {taken}")
    counts = a.call("fanout", b.get_sid("/"), timeout=5)
    expect(counts == [2, 1, 1], f"broadcast counts: {counts}")
    want = {"a": ["both", "except-room"], "b": ["both"], "c": ["except-sid"]}
    with contextlib.suppress(AssertionError):  # the exact comparison below names what is missing
        wait_until(lambda: all(len(got[k]) >= len(v) for k, v in want.items()))
    time.sleep(0.2)  # anything extra (a duplicate) would have arrived by now
    expect(got == want, f"broadcast deliveries: {got}")

    # Server-to-client acks: a reply, then a timeout; each reported back by the server.
    a.emit("ask", "quickq")
    expect(answer_came.wait(5), "reply to quickq reported")
    answer_came.clear()
    a.emit("ask", "slowq")
    wait_until(lambda: "slowq" in answered, 10, "the timeout of slowq to be reported")
    expect(answered.get("quickq") == ("FERROSOCKET_RESULT_OK", '[["quick","x"]]', True),
           f"quickq: {answered.get('quickq')}")
    expect(answered.get("slowq") == ("FERROSOCKET_RESULT_TIMEOUT", "", True),
           f"slowq: {answered.get('slowq')}")
    for client in (a, b, c):
        client.disconnect()


def hold():
    sio = socketio.Client()
    gone = threading.Event()
    sio.on("hold", lambda *args: time.sleep(2.0))  # never answers before the server is freed
    sio.on("disconnect", lambda *args: gone.set())
    connect(sio)
    sio.emit("ready")
    expect(gone.wait(15), "disconnected by the server's free")
    sio.disconnect()


def namespace():
    # One client on /chat; the C side names the namespace "/chat" and "chat" in turn.
    sio = socketio.Client()
    got = []
    sio.on("got", lambda label: got.append(label), namespace="/chat")
    sio.on("question", lambda form: f"answer {form}", namespace="/chat")
    sio.connect(URL, namespaces=["/chat"], transports=["websocket"], wait_timeout=5)
    sid = sio.get_sid("/chat")
    rooms = sio.call("probe", namespace="/chat", timeout=5)
    expect(rooms == [sid, "room /chat", "room chat"], f"rooms by 'chat': {rooms}")
    forms = ("/chat", "chat")
    expected = sorted(f"{what} {form}" for what in ("sid", "room", "all", "ack") for form in forms)
    with contextlib.suppress(AssertionError):  # the comparison below names what is missing
        wait_until(lambda: sorted(got) == expected)
    expect(sorted(got) == expected, f"reached by each form: {sorted(got)}")
    sio.disconnect()


def fleet():
    # On server B of a Redis fleet: joins "r", then waits for a broadcast made on server A
    # and one published by the C emitter, both through Redis.
    sio = socketio.Client()
    got = {}
    sio.on("fleet", lambda data: got.setdefault("fleet", data))
    sio.on("emitted", lambda data: got.setdefault("emitted", data))
    connect(sio)
    expect(sio.call("join", timeout=5) == "ok", "join")
    with contextlib.suppress(AssertionError):
        wait_until(lambda: len(got) == 2, timeout=15)
    expect(got == {"fleet": "from A", "emitted": {"n": 1}}, f"through the fleet: {got}")
    sio.disconnect()


ADMIN_LOGIN = {"username": "admin", "password": "s3cret"}


def admin_client(got):
    admin = socketio.Client()
    admin.on("*", lambda event, *args: got.append((event, list(args))), namespace="/admin")
    admin.connect(URL, namespaces=["/admin"], auth=ADMIN_LOGIN, transports=["websocket"],
                  wait_timeout=5)
    return admin


def first(got, event, match=lambda args: True):
    def find():
        return next((args for name, args in list(got) if name == event and match(args)), None)
    wait_until(lambda: find() is not None, what=f"admin event {event}")
    return find()


def admin():
    # A bad password is refused with node's message, which the UI shows as such.
    refused = socketio.Client()
    seen = {}
    refused.on("connect_error", lambda data: seen.setdefault("data", data), namespace="/admin")
    try:
        refused.connect(URL, namespaces=["/admin"], auth={"username": "admin", "password": "no"},
                        transports=["websocket"], wait_timeout=5)
        fail("a bad admin password was accepted")
    except socketio.exceptions.ConnectionError:
        pass
    expect(seen.get("data") == {"message": "invalid credentials"}, f"refusal: {seen}")

    app = socketio.Client()
    connect(app)
    got = []
    adm = admin_client(got)
    features = first(got, "config")[0]["supportedFeatures"]
    expect("ALL_EVENTS" in features and "JOIN" in features, f"features: {features}")
    listed = [s["id"] for s in first(got, "all_sockets")[0]]
    expect(app.get_sid() in listed, f"all_sockets: {listed}")
    late = socketio.Client()
    connect(late)
    sid = late.get_sid()
    first(got, "socket_connected", lambda args: args[0]["id"] == sid)
    adm.emit("join", ("/", "from-admin", sid), namespace="/admin")
    first(got, "room_joined", lambda args: args[:3] == ["/", "from-admin", sid])
    def counts(args):
        return {n["name"]: n["socketsCount"] for n in args[0]["namespaces"]}

    # The first stats may predate `late`: the one that counts it.
    stats = first(got, "server_stats", lambda args: counts(args).get("/") == 2)[0]
    expect(stats["serverId"] == "c-server", f"serverId: {stats['serverId']}")
    expect(counts([stats]).get("/admin") == 1, f"namespaces: {counts([stats])}")
    for client in (late, app, adm):
        client.disconnect()


def admin_off():
    try:
        admin_client([])
        fail("an admin login was accepted after uninstrument")
    except socketio.exceptions.ConnectionError:
        pass


def admin_again():
    got = []
    adm = admin_client(got)
    first(got, "config")
    adm.disconnect()


try:
    {"admin": admin, "admin-off": admin_off, "admin-again": admin_again, "fleet": fleet, "events": events, "concurrency": concurrency, "linger": linger, "extras": extras,
     "hold": hold, "namespace": namespace}[SCENARIO]()
except AssertionError as error:  # wait_until's timeout
    fail(str(error))
